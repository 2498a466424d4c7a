"""Experiment 4, deep double descent: train and test error of a net against its width, with label noise
and without.

A sweep report (`python sweep.py sweep=double_descent`, `sweep=double_descent_cnn`). One panel per model and
label-noise level: the train error (on the noisy labels the net is fitted to) and the test error at the last
step, as the reference measures them, and the best test error seen during training. With label noise the
test error rises to a peak near the interpolation threshold (the smallest width whose train error is
about zero) and then falls again; without it, no peak. The reference notebook's curves
(published_results.json) are drawn beside ours.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from omegaconf import DictConfig

from mnist1d.atomic import save_figure, write_text
from mnist1d.config.splits import TRAIN_SPLIT
from mnist1d.reports.common import evaluation_history, finished, published, save_numbers, seed_stats, setting

STEM = "double_descent"
WIDTH_KEYS = {"cnn": "model.channels"}  # how each model's width is set; others: model.hidden_size
INTERPOLATION_ERROR = 0.5  # % train error at or below which the training labels count as fitted
PEAK_MARGIN = 1.0  # points the test error must rise above the U-curve's bottom to count as a peak
# (model, label noise > 0) -> the reference notebook's curve in published_results.json `double_descent`
PUBLISHED_CURVES = {
    ("mlp_plain", True): "mlp_label_noise",
    ("mlp_plain", False): "mlp_no_label_noise",
    ("cnn", True): "cnn_label_noise",
}


def best_error(row: dict[str, Any]) -> float:
    """Lowest test error (%) over the run's evaluations: what early stopping on the test set would give."""
    split = row["config"].get("eval_split", "test")
    return 100 * (1 - max(record[f"{split}/acc"] for record in row["history"]))


def double_descent_peak(
    widths: list[int], test_errors: list[float], interpolation: int | None, margin: float = PEAK_MARGIN
) -> int | None:
    """Index of the double-descent peak: the highest test error from the bottom of the classical U-curve
    (the lowest test error below the interpolation threshold) up to twice the threshold, if it rises more
    than `margin` points above that bottom; None otherwise or when no width interpolates."""
    if interpolation is None:
        return None
    below = [i for i, w in enumerate(widths) if w < interpolation]
    if not below:
        return None
    bottom = min(below, key=test_errors.__getitem__)
    window = [i for i, w in enumerate(widths) if widths[bottom] <= w <= 2 * interpolation]
    peak = max(window, key=test_errors.__getitem__)
    return peak if test_errors[peak] - test_errors[bottom] > margin else None


def interpolation_width(widths: list[int], train_errors: list[float | None]) -> int | None:
    """The smallest width from which on every wider net fits its training labels (train error <=
    INTERPOLATION_ERROR %)."""
    threshold = None
    for width, error in zip(reversed(widths), reversed(train_errors), strict=True):
        if error is None or error > INTERPOLATION_ERROR:
            break
        threshold = width
    return threshold


def width_of(row: dict[str, Any]) -> int:
    return int(setting(row, WIDTH_KEYS.get(row["model"], "model.hidden_size")))


def wrong_labels(row: dict[str, Any]) -> float:
    """The expected share (%) of wrong training labels: `resample` redraws a label from all ten classes, so
    one redraw in ten keeps it right."""
    noise = 100 * float(setting(row, "data.label_noise"))
    return noise * 0.9 if setting(row, "data.label_noise_mode") == "resample" else noise


def group_name(model: str, noise: float) -> str:
    return f"{model}, label noise {noise:g}"


def train_error(sweep_dir: Path, row: dict[str, Any]) -> float | None:
    """The error (%) on the whole training split at the run's last evaluation, if the run scored it."""
    history = evaluation_history(sweep_dir, row, TRAIN_SPLIT)
    return 100 * (1 - history[-1][1]) if history else None


def groups(sweep_dir: Path, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per model and label noise: errors by width (summaries over seeds), the peak, the interpolation
    threshold, and the reference's curve where it has one."""
    collected: dict[tuple[str, float], dict[int, dict[str, list]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for row in finished(rows):
        entry = collected[(row["model"], float(setting(row, "data.label_noise")))][width_of(row)]
        entry["test_final"].append(100 * (1 - row["final_acc"]))
        entry["test_best"].append(best_error(row))
        error = train_error(sweep_dir, row)
        if error is not None:
            entry["train_final"].append(error)
        entry["parameters"] = row["parameters"]
        entry["wrong_labels"] = wrong_labels(row)
    result = {}
    for (model, noise), by_width in sorted(collected.items(), key=lambda item: (item[0][0], -item[0][1])):
        widths = sorted(by_width)
        table = {
            width: {"parameters": by_width[width]["parameters"]}
            | {kind: seed_stats(by_width[width][kind]) for kind in ("test_final", "test_best", "train_final")
               if by_width[width][kind]}
            for width in widths
        }  # fmt: skip
        test = [table[w]["test_final"]["mean"] for w in widths]
        train = [table[w]["train_final"]["mean"] if "train_final" in table[w] else None for w in widths]
        threshold = interpolation_width(widths, train)
        peak = double_descent_peak(widths, test, threshold)
        curve = published("double_descent").get(PUBLISHED_CURVES.get((model, noise > 0), ""))
        reference = None
        if curve:
            ref_threshold = interpolation_width(curve["width"], curve["train_error"])
            ref_peak = double_descent_peak(curve["width"], curve["test_error"], ref_threshold)
            reference = curve | {
                "interpolation_width": ref_threshold,
                "peak_width": None if ref_peak is None else curve["width"][ref_peak],
                "peak_error": None if ref_peak is None else curve["test_error"][ref_peak],
            }
        result[group_name(model, noise)] = {
            "model": model,
            "label_noise": noise,
            "wrong_labels": by_width[widths[0]]["wrong_labels"],
            "width_key": WIDTH_KEYS.get(model, "model.hidden_size"),
            "by_width": table,
            "peak_width": None if peak is None else widths[peak],
            "peak_error": None if peak is None else test[peak],
            "interpolation_width": threshold,
            "published": reference,
        }
    return result


def plot(numbers: dict[str, Any]) -> Figure:
    panels = numbers["groups"]
    fig = Figure(figsize=(4.2 * len(panels) + 1.5, 4.2), layout="constrained")
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for ax, (name, group) in zip(axes, panels.items(), strict=True):
        table = group["by_width"]
        widths = [int(w) for w in table]
        reference = group["published"]
        if reference:
            ax.plot(
                reference["width"], reference["test_error"], "-", color="0.6", lw=1.5, label="reference test"
            )
            ax.plot(
                reference["width"],
                reference["train_error"],
                "--",
                color="0.6",
                lw=1.5,
                label="reference train",
            )
        for kind, style, label in (
            ("test_final", "o-", "test (ours)"),
            ("train_final", "o--", "train (ours)"),
            ("test_best", "s:", "best test during training"),
        ):
            points = [(w, table[w][kind]["mean"]) for w in table if kind in table[w]]
            if points:
                colour = {"test_final": "tab:red", "train_final": "tab:orange", "test_best": "tab:blue"}[kind]
                ax.plot(*zip(*[(int(w), e) for w, e in points], strict=True), style, ms=3.5, color=colour,
                        label=label)  # fmt: skip
        if group["wrong_labels"]:
            wrong = group["wrong_labels"]
            ax.axhline(wrong, color="0.7", ls=":", lw=1, label=f"expected wrong labels ({wrong:.1f} %)")
        for width, colour, label in (
            (group["interpolation_width"], "tab:red", "interpolation (ours)"),
            (reference and reference["interpolation_width"], "0.6", "interpolation (reference)"),
        ):
            if width:
                ax.axvline(width, color=colour, lw=1, alpha=0.6, label=label)
        ax.set_xscale("log")
        shown = widths + (reference["width"] if reference else [])
        ticks = [t for t in (2, 5, 10, 20, 50, 100, 200, 300) if min(shown) <= t <= max(shown)]
        ax.set_xticks(ticks, [str(t) for t in ticks])
        unit = "channels" if group["width_key"] == "model.channels" else "hidden units per layer"
        ax.set(xlabel=f"width ({unit})", title=name)
        ax.grid(alpha=0.3)
    errors = [value for ax in axes for line in ax.get_lines() for value in line.get_ydata()]
    axes[0].set_ylim(0, 1.03 * max(75.0, *errors))
    handles = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(
        handles.values(), handles.keys(), loc="outside lower center", ncol=4, fontsize=8, frameon=False
    )
    axes[0].set_ylabel("error (%)")
    steps = "/".join(map(str, numbers["max_steps"]))
    fig.suptitle(f"Double descent: error at the last step ({steps} steps) against width")
    return fig


def fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def markdown(numbers: dict[str, Any]) -> str:
    text = f"# Double descent ({'/'.join(map(str, numbers['max_steps']))} steps)\n"
    header = [
        "width",
        "parameters",
        "train error",
        "test error",
        "best test error",
        "ref. train",
        "ref. test",
    ]
    for name, group in numbers["groups"].items():
        reference = group["published"] or {}
        ref = {
            w: (a, b)
            for w, a, b in zip(
                *(reference.get(k, []) for k in ("width", "train_error", "test_error")), strict=True
            )
        }
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for width, entry in group["by_width"].items():
            cells = [str(width), f"{entry['parameters']:,}"]
            cells += [
                fmt(entry[k]["mean"] if k in entry else None)
                for k in ("train_final", "test_final", "test_best")
            ]
            cells += [fmt(v) for v in ref.get(int(width), (None, None))]
            lines.append("| " + " | ".join(cells) + " |")
        text += f"\n## {name}\n\n" + "\n".join(lines) + "\n\n"
        text += f"Test-error peak (> {PEAK_MARGIN:g} point above the U-curve's bottom, at most twice the"
        text += f" interpolation threshold): width {group['peak_width']} ({fmt(group['peak_error'])} %),"
        text += " reference"
        text += (
            f" {reference.get('peak_width')} ({fmt(reference.get('peak_error'))} %). Interpolation threshold"
        )
        text += (
            f" (train error ≤ {INTERPOLATION_ERROR:g} % from there on): width {group['interpolation_width']},"
        )
        text += f" reference {reference.get('interpolation_width')}.\n"
    return text


def double_descent_report(
    sweep_dir: Path, rows: list[dict[str, Any]], cfg: DictConfig | None = None
) -> list[Path]:
    """Write double_descent.json and .md (errors per model, noise and width; peaks and interpolation
    thresholds beside the reference's) and double_descent.png/.pdf."""
    by_group = groups(sweep_dir, rows)
    if not by_group:
        raise ValueError(f"no finished runs in {sweep_dir}: nothing to report")
    numbers = {
        "metric": "error (%) = 100 - accuracy: train (whole training split, noisy labels) and test at the"
        " last step, and the best test error over the evaluations; mean/std over seeds",
        "max_steps": sorted({setting(row, "trainer.max_steps") for row in finished(rows)}),
        "groups": by_group,
        "published": published("double_descent"),
    }
    path = sweep_dir / f"{STEM}.md"
    write_text(path, markdown(numbers))
    return [save_numbers(sweep_dir, STEM, numbers), path, *save_figure(plot(numbers), sweep_dir, STEM)]
