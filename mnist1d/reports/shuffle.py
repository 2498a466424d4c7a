"""Experiment 1, spatial shuffle: which architectures rely on the order of the 40 positions.

A sweep report (`python sweep.py sweep=shuffle`): test accuracy per model on MNIST-1D and on its spatially
shuffled variant (one fixed permutation of the positions), mean +- std over seeds, at the final step and
best during training, beside the published table (Greydanus & Kobak, published_results.json, early-stopped
accuracy, so compared with our best) and the human's accuracy on each variant: the CNN and the GRU lose
much of their accuracy, the MLP and logistic regression none. With `data.eval_train_split` the runs also
score the whole training split at every evaluation, and `train_test_curves` draws the paper's Fig. 6:
train and test accuracy over training, solid on MNIST-1D, dashed shuffled.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from omegaconf import DictConfig

from mnist1d.atomic import save_figure, write_text
from mnist1d.config.splits import TRAIN_SPLIT
from mnist1d.reports.common import (
    READINGS,
    cell,
    count_inside,
    error_bar,
    evaluation_history,
    finished,
    interval_cell,
    judge,
    model_colour,
    protocol_of,
    published,
    save_numbers,
    seed_stats,
    setting,
    verdict_cell,
)

STEM = "shuffle"
CURVES_STEM = "train_test_curves"
VARIANTS = {False: "mnist1d", True: "mnist1d_shuffled"}
COLOURS = {"mnist1d": "tab:blue", "mnist1d_shuffled": "tab:orange"}
LABELS = {"mnist1d": "MNIST-1D", "mnist1d_shuffled": "spatially shuffled"}
ORDER = ("logistic", "mlp", "cnn", "gru")  # the paper's order; other models follow


def variant(row: dict[str, Any]) -> str:
    return VARIANTS[bool(setting(row, "data.shuffle_seq"))]


def model_order(rows: list[dict[str, Any]]) -> list[str]:
    models = {row["model"] for row in finished(rows)}
    return [m for m in ORDER if m in models] + sorted(models - set(ORDER))


def accuracies(rows: list[dict[str, Any]], key: str = "final_acc") -> dict[str, dict[str, dict[str, Any]]]:
    """Test accuracy (%) per model and variant (`final_acc` or `best_acc`), summarised over seeds."""
    grouped: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in finished(rows):
        grouped[row["model"]][variant(row)].append(100 * row[key])
    return {
        model: {v: seed_stats(grouped[model][v]) for v in VARIANTS.values() if v in grouped[model]}
        for model in model_order(rows)
    }


def curves(sweep_dir: Path, rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per model and variant, the mean over seeds of the test accuracy and (when recorded) of the whole
    training split's accuracy at every evaluation all seeds share."""
    grouped: dict[str, dict[str, list[dict[str, dict[int, float]]]]] = defaultdict(lambda: defaultdict(list))
    for row in finished(rows):
        split = row["config"].get("eval_split", "test")
        grouped[row["model"]][variant(row)].append(
            {
                "test": dict(evaluation_history(sweep_dir, row, split)),
                "train": dict(evaluation_history(sweep_dir, row, TRAIN_SPLIT)),
            }
        )
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for model in model_order(rows):
        for name, runs in grouped[model].items():
            entry: dict[str, Any] = {"seeds": len(runs)}
            for kind in ("test", "train"):
                steps = sorted(set.intersection(*(set(run[kind]) for run in runs)))
                entry[kind] = {
                    "steps": steps,
                    "mean": [100 * statistics.fmean(run[kind][s] for run in runs) for s in steps],
                }
            result.setdefault(model, {})[name] = entry
    return result


def plot(numbers: dict[str, Any]) -> Figure:
    """Grouped bars: best accuracy during training (the paper's protocol) per model and variant, the
    published numbers as black ticks, our final accuracy as white dots, the human's accuracy per variant."""
    best, final = numbers["best_accuracy"], numbers["accuracy"]
    models = list(best)
    reference = numbers["published"]
    fig = Figure(figsize=(7.5, 4.4), layout="constrained")
    ax = fig.subplots()
    width = 0.38
    for offset, name in ((-width / 2, "mnist1d"), (width / 2, "mnist1d_shuffled")):
        x = np.arange(len(models)) + offset
        stats = [best[m].get(name) for m in models]
        label = f"{LABELS[name]}: best during training (ours)"
        for xi, stat in zip(x, stats, strict=True):
            if stat is not None:
                ax.bar(
                    xi, stat["mean"], width, yerr=error_bar(stat), capsize=3, color=COLOURS[name], label=label
                )
                label = None
        finals = [(xi, final[m][name]["mean"]) for xi, m in zip(x, models, strict=True) if name in final[m]]
        if finals:
            ax.scatter(*zip(*finals, strict=True), marker="o", s=18, color="white", edgecolors="black",
                       zorder=3, label="final step (ours)" if name == "mnist1d" else None)  # fmt: skip
        shown = [(xi, reference[name][m]) for xi, m in zip(x, models, strict=True) if m in reference[name]]
        if shown:
            ax.scatter(*zip(*shown, strict=True), marker="_", s=400, linewidths=2.5, color="black", zorder=3,
                       label="published (early-stopped)" if name == "mnist1d" else None)  # fmt: skip
        human = numbers["published_human"][name]
        ax.axhline(human, color=COLOURS[name], ls="--", lw=1.2, label=f"human, {LABELS[name]} ({human:g} %)")
    ax.set_xticks(np.arange(len(models)), models)
    ax.set(xlabel="model", ylabel="test accuracy (%)", ylim=(0, 105))
    steps = "/".join(map(str, numbers["max_steps"]))
    seeds = max((s["n"] for m in models for s in best[m].values()), default=0)
    ax.set_title(f"Spatial shuffle: mean ± std over {seeds} seed(s), {steps} steps")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return fig


def plot_curves(numbers: dict[str, Any]) -> Figure:
    """The paper's Fig. 6: training-split (left) and test (right) accuracy over training, mean over seeds;
    solid MNIST-1D, dashed shuffled; the human's accuracy on the test panel."""
    fig = Figure(figsize=(9, 4), layout="constrained")
    ax_train, ax_test = fig.subplots(1, 2, sharey=True)
    for model, by_variant in numbers["curves"].items():
        colour = model_colour(model)
        for name, entry in by_variant.items():
            style = "-" if name == "mnist1d" else "--"
            for ax, kind in ((ax_train, "train"), (ax_test, "test")):
                label = f"{model} (n={entry['seeds']})" if name == "mnist1d" and ax is ax_train else None
                ax.plot(entry[kind]["steps"], entry[kind]["mean"], style, color=colour, label=label)
    ax_train.plot([], [], "k--", label="after shuffling")
    for name, style in (("mnist1d", "-"), ("mnist1d_shuffled", ":")):
        human = numbers["published_human"][name]
        ax_test.axhline(human, color="black", ls=style, lw=1, label=f"human, {LABELS[name]} ({human:g} %)")
    ax_train.set(title="Training accuracy (whole training split)", xlabel="training step",
                 ylabel="accuracy (%)", ylim=(0, 100))  # fmt: skip
    ax_test.set(title="Test accuracy", xlabel="training step")
    ax_train.legend(loc="lower right", fontsize=8)
    ax_test.legend(loc="lower right", fontsize=8)
    for ax in (ax_train, ax_test):
        ax.grid(alpha=0.3)
    return fig


def markdown(numbers: dict[str, Any]) -> str:
    """The final and best accuracies per model and variant, and the published (early-stopped) number
    judged against our 95 % prediction interval of the same reading."""
    reading = numbers["reading"]
    header = ["model", "data", "final step", "best during training", f"95 % PI ({reading})", "published"]
    lines = ["| " + " | ".join([*header, "published is"]) + " |"]
    lines.append("|---|---|---|---|---|---|---|")
    judged = []
    for model, by_variant in numbers["accuracy"].items():
        for name, stat in by_variant.items():
            best = numbers["best_accuracy"][model][name]
            verdict = numbers["vs_published"].get(model, {}).get(name)
            reference = numbers["published"][name].get(model)
            cells = [model, LABELS[name], cell(stat), cell(best)]
            if verdict is None:
                cells += ["—", "—" if reference is None else f"{reference:g}", "—"]
            else:
                judged.append(verdict)
                cells += [interval_cell(verdict), f"{reference:g}", verdict_cell(verdict)]
            lines.append("| " + " | ".join(cells) + " |")
    humans = ", ".join(f"{LABELS[n]} {h:g} %" for n, h in numbers["published_human"].items())
    steps = "/".join(map(str, numbers["max_steps"]))
    return (
        f"# Spatial shuffle\n\nTest accuracy (%), mean ± std over seeds, {steps} steps, protocol"
        f" **{numbers['protocol']}**. Published: Greydanus & Kobak's table, early-stopped, so judged against"
        f" the 95 % prediction interval for one run of our {reading} accuracy. Human: {humans}.\n\n"
        + "\n".join(lines)
        + f"\n\n{count_inside(judged)} published numbers lie inside our prediction interval.\n"
    )


def shuffle_report(sweep_dir: Path, rows: list[dict[str, Any]], cfg: DictConfig | None = None) -> list[Path]:
    """Write shuffle.json and shuffle.md (final and best accuracies, shuffled - original drop per model,
    published), shuffle.png/.pdf and, when the runs scored their training split, the curves' figure."""
    accuracy = accuracies(rows)
    if not accuracy:
        raise ValueError(f"no finished runs in {sweep_dir}: nothing to report")
    best = accuracies(rows, "best_acc")
    table = published("original_paper_table")
    reading = table["accuracy"]
    compared = accuracies(rows, READINGS[reading])
    reference = {
        name: {k: v for k, v in table.get(name, {}).items() if k != "human"} for name in VARIANTS.values()
    }
    numbers = {
        "metric": "test accuracy (%), mean/std over seeds: `accuracy` at the final step, `best_accuracy` the"
        " best evaluation during training (the published numbers are early-stopped); `vs_published`: each"
        " published number against the 95 % prediction interval for one run of the published reading",
        "max_steps": sorted({setting(row, "trainer.max_steps") for row in finished(rows)}),
        "accuracy": accuracy,
        "best_accuracy": best,
        "drop_when_shuffled": {
            model: by_variant["mnist1d"]["mean"] - by_variant["mnist1d_shuffled"]["mean"]
            for model, by_variant in accuracy.items()
            if len(by_variant) == 2
        },
        "published": reference,
        "published_human": {name: table[name]["human"] for name in VARIANTS.values()},
        "protocol": protocol_of(rows),
        "reading": reading,
        "vs_published": {
            model: {
                name: judge(stat, reference[name][model])
                for name, stat in by_variant.items()
                if model in reference[name]
            }
            for model, by_variant in compared.items()
        },
        "curves": curves(sweep_dir, rows),
    }
    paths = [save_numbers(sweep_dir, STEM, numbers)]
    write_text(sweep_dir / f"{STEM}.md", markdown(numbers))
    paths += [sweep_dir / f"{STEM}.md", *save_figure(plot(numbers), sweep_dir, STEM)]
    has_train = any(entry["train"]["steps"] for by in numbers["curves"].values() for entry in by.values())
    if has_train:
        paths += save_figure(plot_curves(numbers), sweep_dir, CURVES_STEM)
    return paths
