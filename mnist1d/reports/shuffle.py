"""Experiment 1, spatial shuffle: which architectures rely on the order of the 40 positions.

A sweep report (`python sweep.py sweep=shuffle`): test accuracy per model on MNIST-1D and on its spatially
shuffled variant (one fixed permutation of the positions), mean +- std over seeds, as a grouped bar chart
beside the published table (Greydanus & Kobak, published_results.json): the CNN and the GRU lose much of
their accuracy, the MLP and logistic regression none.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from omegaconf import DictConfig

from mnist1d.atomic import save_figure
from mnist1d.reports.common import finished, published, save_numbers, setting, summary

STEM = "shuffle"
VARIANTS = {False: "mnist1d", True: "mnist1d_shuffled"}
COLOURS = {"mnist1d": "tab:blue", "mnist1d_shuffled": "tab:orange"}
LABELS = {"mnist1d": "MNIST-1D", "mnist1d_shuffled": "spatially shuffled"}


def accuracies(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Test accuracy (%) per model and variant, summarised over seeds; models in order of first appearance."""
    grouped: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in finished(rows):
        variant = VARIANTS[bool(setting(row, "data.shuffle_seq"))]
        grouped[setting(row, "model_name")][variant].append(100 * row["final_acc"])
    return {
        model: {variant: summary(values) for variant, values in by_variant.items()}
        for model, by_variant in grouped.items()
    }


def plot(numbers: dict[str, Any]) -> Figure:
    models = list(numbers["accuracy"])
    reference = numbers["published"]
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    width = 0.38
    for offset, variant in ((-width / 2, "mnist1d"), (width / 2, "mnist1d_shuffled")):
        x = np.arange(len(models)) + offset
        stats = [numbers["accuracy"][m].get(variant, {"mean": np.nan, "std": 0.0}) for m in models]
        ax.bar(
            x,
            [s["mean"] for s in stats],
            width,
            yerr=[s["std"] for s in stats],
            capsize=3,
            color=COLOURS[variant],
            label=f"{LABELS[variant]} (ours)",
        )
        shown = [
            (xi, reference[variant][m])
            for xi, m in zip(x, models, strict=True)
            if m in reference.get(variant, {})
        ]
        if shown:
            ax.scatter(
                *zip(*shown, strict=True),
                marker="_",
                s=400,
                linewidths=2.5,
                color="black",
                zorder=3,
                label="published" if variant == "mnist1d" else None,
            )
    ax.set_xticks(np.arange(len(models)), models)
    ax.set_xlabel("model")
    steps = "/".join(map(str, numbers["max_steps"]))
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 105)
    seeds = max((s["n"] for m in models for s in numbers["accuracy"][m].values()), default=0)
    ax.set_title(f"Spatial shuffle: mean ± std over {seeds} seed(s), {steps} steps")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return fig


def shuffle_report(sweep_dir: Path, rows: list[dict[str, Any]], cfg: DictConfig | None = None) -> list[Path]:
    """Write shuffle.json (accuracies, shuffled - original drop per model, published) and shuffle.png/.pdf."""
    accuracy = accuracies(rows)
    if not accuracy:
        raise ValueError(f"no finished runs in {sweep_dir}: nothing to report")
    reference = published("original_paper_table")
    numbers = {
        "metric": "test accuracy (%) at the final step, mean/std over seeds",
        "max_steps": sorted({setting(row, "trainer.max_steps") for row in finished(rows)}),
        "accuracy": accuracy,
        "drop_when_shuffled": {
            model: by_variant["mnist1d"]["mean"] - by_variant["mnist1d_shuffled"]["mean"]
            for model, by_variant in accuracy.items()
            if len(by_variant) == 2
        },
        "published": {variant: reference.get(variant, {}) for variant in VARIANTS.values()},
    }
    return [save_numbers(sweep_dir, STEM, numbers), *save_figure(plot(numbers), sweep_dir, STEM)]
