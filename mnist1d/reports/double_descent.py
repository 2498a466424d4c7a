"""Experiment 4, deep double descent: test error of a plain MLP against its width, with 15 % label noise.

A sweep report (`python sweep.py sweep=double_descent`). Past the width where the net can first fit every
(noisy) training label, test error rises to a peak and then falls again as width grows; the published peak
and the error at width 300 (published_results.json) are drawn beside ours. The best error seen during
training is drawn too: early stopping hides the peak, showing that it comes from fitting the noise.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from omegaconf import DictConfig

from mnist1d.atomic import save_figure
from mnist1d.reports.common import finished, published, save_numbers, setting, summary

STEM = "double_descent"


def best_error(row: dict[str, Any]) -> float:
    """Lowest test error (%) over the run's evaluations: what early stopping on the test set would give."""
    accuracies = [record[key] for record in row["history"] for key in record if key.endswith("/acc")]
    return 100 * (1 - max(accuracies))


def peak_after_first_minimum(errors: list[float]) -> int | None:
    """Index of the highest error after the first local minimum (the bottom of the classical U-curve), the
    double-descent peak; None when the curve has no such second rise."""
    bottom = 0
    while bottom + 1 < len(errors) and errors[bottom + 1] < errors[bottom]:
        bottom += 1
    later = errors[bottom + 1 :]
    return None if not later else bottom + 1 + max(range(len(later)), key=later.__getitem__)


def errors_by_width(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    final: dict[int, list[float]] = defaultdict(list)
    best: dict[int, list[float]] = defaultdict(list)
    parameters: dict[int, int] = {}
    for row in finished(rows):
        width = int(setting(row, "model.hidden_size"))
        final[width].append(100 * (1 - row["final_acc"]))
        best[width].append(best_error(row))
        parameters[width] = row.get("parameters")
    return {
        width: {"parameters": parameters[width], "final": summary(final[width]), "best": summary(best[width])}
        for width in sorted(final)
    }


def plot(numbers: dict[str, Any]) -> Figure:
    by_width = numbers["test_error"]
    reference = numbers["published"]
    widths = [int(w) for w in by_width]
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    ax.axvspan(*reference["peak_widths"], color="tab:gray", alpha=0.2, label="published peak widths")
    for kind, colour, label in (
        ("final", "tab:red", "final (ours)"),
        ("best", "tab:blue", "best during training (ours)"),
    ):
        means = [by_width[w][kind]["mean"] for w in by_width]
        stds = [by_width[w][kind]["std"] for w in by_width]
        ax.errorbar(widths, means, yerr=stds, marker="o", ms=4, capsize=3, color=colour, label=label)
    ax.plot(
        [300],
        [reference["test_error_at_width_300"]],
        marker="*",
        ms=12,
        ls="none",
        color="black",
        label="published, w=300",
    )
    ax.set_xscale("log")
    ticks = [t for t in (2, 5, 10, 20, 50, 100, 200, 300) if min(widths) <= t <= max(widths)]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xlabel("hidden width (units in each of the 2 layers)")
    steps = "/".join(map(str, numbers["max_steps"]))
    ax.set_ylabel("test error (%)")
    ax.set_title(f"Double descent: {numbers['label_noise']:.0%} label noise, {steps} steps")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def double_descent_report(
    sweep_dir: Path, rows: list[dict[str, Any]], cfg: DictConfig | None = None
) -> list[Path]:
    """Write double_descent.json (test error per width, the peak) and double_descent.png/.pdf."""
    by_width = errors_by_width(rows)
    if not by_width:
        raise ValueError(f"no finished runs in {sweep_dir}: nothing to report")
    done = finished(rows)
    widths = list(by_width)
    peak_index = peak_after_first_minimum([by_width[w]["final"]["mean"] for w in widths])
    peak = None if peak_index is None else widths[peak_index]
    largest = widths[-1]
    numbers = {
        "metric": "test error (%) = 100 - test accuracy, at the final step and best over evaluations",
        "max_steps": sorted({setting(row, "trainer.max_steps") for row in done}),
        "label_noise": setting(done[0], "data.label_noise"),
        "test_error": by_width,
        "peak_width": peak,
        "peak_error": None if peak is None else by_width[peak]["final"]["mean"],
        "largest_width": largest,
        "error_at_largest_width": by_width[largest]["final"]["mean"],
        "published": published("double_descent"),
    }
    return [save_numbers(sweep_dir, STEM, numbers), *save_figure(plot(numbers), sweep_dir, STEM)]
