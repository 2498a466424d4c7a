"""Experiment 5, pooling: how much each downsampling method helps a small CNN, by training-set size.

A sweep report (`python sweep.py sweep=pooling`): test accuracy of PoolCNN per pooling method against the
number of training samples (each size scored on its own fresh 1000 test samples, as in the reference), at
the final step and best during training, beside the reference notebook's numbers (published_results.json,
one run each, read at the last step): pooling helps most with little data.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from omegaconf import DictConfig

from mnist1d.atomic import save_figure, write_text
from mnist1d.models.pool_cnn import POOLINGS
from mnist1d.reports.common import (
    READINGS,
    cell,
    count_inside,
    error_bar,
    finished,
    interval_cell,
    judge,
    protocol_of,
    published,
    save_numbers,
    seed_stats,
    setting,
    verdict_cell,
)

STEM = "pooling"
# Our `model.pooling` names -> the reference notebook's.
PUBLISHED_NAMES = {
    "none": "no_pool",
    "stride": "stride_2",
    "max": "max_pool",
    "avg": "avg_pool",
    "l2": "l2_pool",
}
COLOURS = {"none": "tab:gray", "stride": "tab:purple", "max": "tab:red", "avg": "tab:blue", "l2": "tab:green"}


def accuracy_by_size(
    rows: list[dict[str, Any]], key: str = "final_acc"
) -> dict[str, dict[int, dict[str, Any]]]:
    """Pooling -> training-set size -> statistics over seeds of `final_acc` or `best_acc` (%)."""
    grouped: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in finished(rows):
        grouped[setting(row, "model.pooling")][int(setting(row, "data.train_size"))].append(100 * row[key])
    return {
        pooling: {size: seed_stats(grouped[pooling][size]) for size in sorted(grouped[pooling])}
        for pooling in POOLINGS
        if pooling in grouped
    }


def published_by_pooling() -> dict[str, dict[int, float]]:
    """The reference's accuracies as {pooling: {train size: accuracy}}."""
    reference = published("pooling")
    sizes = {
        int(key.removeprefix("train_")): table for key, table in reference.items() if key.startswith("train_")
    }
    return {
        pooling: {size: table[name] for size, table in sorted(sizes.items())}
        for pooling, name in PUBLISHED_NAMES.items()
    }


def plot(numbers: dict[str, Any]) -> Figure:
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for pooling, by_size in numbers["accuracy"].items():
        sizes = [int(size) for size in by_size]
        ax.errorbar(
            sizes,
            [s["mean"] for s in by_size.values()],
            yerr=[s["std"] for s in by_size.values()]
            if any(error_bar(s) for s in by_size.values())
            else None,
            marker="o",
            ms=5,
            capsize=3,
            color=COLOURS[pooling],
            label=pooling,
        )
        reference = numbers["published"].get(pooling, {})
        ax.plot(
            list(reference),
            list(reference.values()),
            marker="D",
            mfc="none",
            ms=8,
            ls="none",
            color=COLOURS[pooling],
        )
    ax.plot([], [], marker="D", mfc="none", ls="none", color="black", label="published (hollow)")
    ax.set_xscale("log")
    ticks = sorted(
        {int(size) for by_size in numbers["accuracy"].values() for size in by_size}
        | {size for reference in numbers["published"].values() for size in reference}
    )
    ax.set_xticks(ticks, [f"{t:,}" for t in ticks])
    ax.set_xlabel("training samples")
    steps = "/".join(map(str, numbers["max_steps"]))
    ax.set_ylabel("test accuracy (%)")
    seeds = max((s["n"] for by_size in numbers["accuracy"].values() for s in by_size.values()), default=0)
    ax.set_title(
        f"Pooling vs training-set size: final accuracy, {steps} steps, mean ± std over {seeds} seed(s)"
    )
    ax.legend(title="pooling", loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def markdown(numbers: dict[str, Any]) -> str:
    reading = numbers["reading"]
    lines = [
        f"| pooling | training samples | final step | best during training | 95 % PI ({reading}) | published"
        " | published is |",
        "|---|---|---|---|---|---|---|",
    ]
    for pooling, by_size in numbers["accuracy"].items():
        for size, stat in by_size.items():
            reference = numbers["published"].get(pooling, {}).get(int(size))
            best = numbers["best_accuracy"][pooling][size]
            verdict = numbers["vs_published"].get(pooling, {}).get(size)
            cells = [pooling, f"{int(size):,}", cell(stat), cell(best)]
            if verdict is None:
                cells += ["—", "—" if reference is None else f"{reference:g}", "—"]
            else:
                cells += [interval_cell(verdict), f"{reference:g}", verdict_cell(verdict)]
            lines.append("| " + " | ".join(cells) + " |")
    steps = "/".join(map(str, numbers["max_steps"]))
    judged = [v for by_size in numbers["vs_published"].values() for v in by_size.values()]
    return (
        f"# Pooling\n\nTest accuracy (%) on 1000 fresh test samples per size, {steps} steps, mean ± std over"
        f" seeds, protocol **{numbers['protocol']}**. Published: the reference notebook, one run each, at the"
        " last step, judged against the 95 % prediction interval for one run of ours read the same way.\n\n"
        + "\n".join(lines)
        + f"\n\n{count_inside(judged)} published numbers lie inside our prediction interval.\n"
    )


def pooling_report(sweep_dir: Path, rows: list[dict[str, Any]], cfg: DictConfig | None = None) -> list[Path]:
    """Write pooling.json and pooling.md (final and best accuracy per pooling and size, best pooling minus
    none) and pooling.png/.pdf."""
    accuracy = accuracy_by_size(rows)
    if not accuracy:
        raise ValueError(f"no finished runs in {sweep_dir}: nothing to report")
    gain = {}
    for size, no_pooling in accuracy.get("none", {}).items():
        pooled = [accuracy[p][size]["mean"] for p in ("max", "avg", "l2") if size in accuracy.get(p, {})]
        if pooled:
            gain[size] = max(pooled) - no_pooling["mean"]
    reading = published("pooling")["accuracy"]
    compared = accuracy_by_size(rows, READINGS[reading])
    reference = published_by_pooling()
    numbers = {
        "metric": "test accuracy (%), mean/std over seeds, 1000 test samples per size: `accuracy` at the"
        " final step, `best_accuracy` the best evaluation during training; `vs_published`: each published"
        " number against the 95 % prediction interval for one run of the published reading",
        "protocol": protocol_of(rows),
        "reading": reading,
        "max_steps": sorted({setting(row, "trainer.max_steps") for row in finished(rows)}),
        "accuracy": accuracy,
        "best_accuracy": accuracy_by_size(rows, "best_acc"),
        "best_pooling_gain_over_none": gain,
        "published": reference,
        "vs_published": {
            pooling: {
                size: judge(stat, reference[pooling][size])
                for size, stat in by_size.items()
                if size in reference.get(pooling, {})
            }
            for pooling, by_size in compared.items()
        },
    }
    path = sweep_dir / f"{STEM}.md"
    write_text(path, markdown(numbers))
    return [save_numbers(sweep_dir, STEM, numbers), path, *save_figure(plot(numbers), sweep_dir, STEM)]
