"""The study report's figures (matplotlib, Agg): accuracy bars per step budget, learning curves (per budget
and overall), accuracy vs parameter count, and per-digit errors beside the human expert's. Every figure is
FIGURE_SIZE_PX, one fixed colour per model across figures. The papers' claims are about differences between
90 and 100 %, so the accuracy figures add a panel zoomed on ZOOM % beside the whole 0-100 % range."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from mnist1d.atomic import save_figure
from mnist1d.config.compose import config_options
from mnist1d.reports.common import error_bar

DPI = 100
FIGURE_SIZE_PX = (900, 500)
HUMAN_STYLE = {"color": "black", "linestyle": "--", "linewidth": 1.2}
ZOOM = (85.0, 100.0)  # the zoomed panel's accuracy range (%)
STRONG_ERROR = 15.0  # models whose mean per-digit error is at most this are drawn in the zoomed digit panel
Stat = dict[str, Any]  # `common.seed_stats` of one model's accuracies (percent) over seeds


class Curve(NamedTuple):
    """A learning curve over seeds: mean and the min-max band, in percent, at each evaluated step."""

    steps: list[int]
    mean: list[float]
    low: list[float]
    high: list[float]
    n: int = 1


def model_colours(models: Sequence[str]) -> dict[str, tuple[float, ...]]:
    """tab10 colours by position among the model configs (conf/train/model/), so a model keeps its colour in
    every figure."""
    palette = plt.get_cmap("tab10").colors
    names = config_options("model")
    names += sorted(set(models) - set(names))
    return {name: palette[names.index(name) % len(palette)] for name in models}


def new_figure(panels: int = 1) -> tuple[Figure, Any]:
    """A FIGURE_SIZE_PX figure; with two panels the second (the zoom) is narrower."""
    width, height = FIGURE_SIZE_PX
    ratios = {"width_ratios": [3, 2]} if panels == 2 else None
    return plt.subplots(1, panels, figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained",
                        gridspec_kw=ratios)  # fmt: skip


def save(fig: Figure, path: Path) -> Path:
    """Add the legend outside on the right and save as a PNG of exactly FIGURE_SIZE_PX."""
    fig.legend(loc="outside right upper", fontsize=8)
    (png,) = save_figure(fig, path.parent, path.stem, formats=("png",), dpi=DPI, bbox_inches=None)
    return png


def finish(fig: Figure, ax: plt.Axes, path: Path, xlabel: str, ylabel: str, title: str) -> Path:
    """Label a one-panel accuracy figure (0-100 %), add the legend, and save it."""
    ax.set_ylim(0, 100)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    return save(fig, path)


def zoomed(ax: plt.Axes, xlabel: str) -> None:
    ax.set_ylim(*ZOOM)
    ax.set(xlabel=xlabel, title=f"zoom: {ZOOM[0]:g}-{ZOOM[1]:g} %")
    ax.grid(axis="y", alpha=0.3)


def accuracy_bars(
    path: Path, steps: int, stats: dict[str, Stat], human: float | None, published: dict[str, float]
) -> Path:
    """Final accuracy per model (in the order given) at one step budget: mean with std error bars over seeds
    (none for one seed), the human line and the published numbers; the zoomed panel shows every seed."""
    fig, (ax, zoom) = new_figure(2)
    models = list(stats)
    colours = model_colours(models)
    for x, model in enumerate(models):
        stat = stats[model]
        ax.bar(x, stat["mean"], yerr=error_bar(stat), capsize=5, color=colours[model],
               label=f"{model} (n={stat['n']})")  # fmt: skip
    strong = [m for m in models if max(stats[m]["values"]) >= ZOOM[0]]
    for x, model in enumerate(strong):
        stat = stats[model]
        jitter = np.linspace(-0.15, 0.15, len(stat["values"])) if len(stat["values"]) > 1 else [0.0]
        zoom.scatter(x + np.asarray(jitter), stat["values"], s=14, color=colours[model], alpha=0.7)
        zoom.errorbar(x, stat["mean"], yerr=error_bar(stat), fmt="_", markersize=18, capsize=4,
                      color=colours[model])  # fmt: skip
    for axis, shown in ((ax, models), (zoom, strong)):
        marked = [(x, published[m]) for x, m in enumerate(shown) if m in published]
        if marked:
            axis.scatter(*zip(*marked, strict=True), marker="D", color="black", zorder=3,
                         label="published" if axis is ax else None)  # fmt: skip
        if human is not None:
            axis.axhline(human, **HUMAN_STYLE, label=f"human ({human:g}%)" if axis is ax else None)
        axis.set_xticks(range(len(shown)), shown, rotation=30, ha="right")
    ax.set_ylim(0, 100)
    ax.set(xlabel="model", ylabel="final test accuracy (%)", title="0-100 %: mean ± std")
    zoomed(zoom, "model (dots: seeds)")
    fig.suptitle(f"Test accuracy after {steps} steps")
    return save(fig, path)


def learning_curves(
    path: Path, curves: dict[str, Curve], human: float | None, steps: int | None = None
) -> Path:
    """Test accuracy vs step: mean over seeds with a min-max band, one colour per model; whole range and
    zoomed. `steps`: the budget the curves end at (the title says so)."""
    fig, axes = new_figure(2)
    colours = model_colours(list(curves))
    for ax in axes:
        for model, curve in curves.items():
            label = f"{model} (n={curve.n})" if ax is axes[0] else None
            ax.plot(curve.steps, curve.mean, marker=".", markersize=3, color=colours[model], label=label)
            if curve.n > 1:
                ax.fill_between(curve.steps, curve.low, curve.high, color=colours[model], alpha=0.2, lw=0)
        if human is not None:
            ax.axhline(human, **HUMAN_STYLE, label="human" if ax is axes[0] else None)
    budget = f"{steps} steps" if steps else "longest runs"
    axes[0].set_ylim(0, 100)
    axes[0].set(xlabel="training step", ylabel="test accuracy (%)", title="0-100 %")
    zoomed(axes[1], "training step")
    fig.suptitle(f"Learning curves, {budget}: mean over seeds, band: min-max")
    return save(fig, path)


def accuracy_vs_parameters(path: Path, points: dict[str, tuple[int, Stat]], steps: int) -> Path:
    """Final accuracy vs parameter count (log scale) at one step budget, std error bars over seeds."""
    fig, ax = new_figure()
    colours = model_colours(list(points))
    for model, (parameters, stat) in points.items():
        ax.errorbar(parameters, stat["mean"], yerr=error_bar(stat), fmt="o", markersize=8, capsize=4,
                    color=colours[model], label=f"{model} ({parameters:,})")  # fmt: skip
    ax.set_xscale("log")
    title = f"Accuracy vs parameter count after {steps} steps"
    return finish(fig, ax, path, "parameters (log scale)", "final test accuracy (%)", title)


def per_digit_errors(path: Path, digits: dict[str, Any]) -> Path:
    """Per-digit test error of every model (left, whole range) and of the strong models beside the published
    human expert's and CNN's (right, zoomed); r: correlation with the human's per-digit errors."""
    fig, (ax, zoom) = new_figure(2)
    models = digits["models"]
    colours = model_colours(list(models))
    x = np.arange(10)
    for model, numbers in models.items():
        label = f"{model} (r={numbers['r_human']:.2f})"
        ax.plot(x, numbers["error_rate"], marker="o", markersize=4, color=colours[model], label=label)
    ax.plot(x, digits["human"], marker="s", color="black", lw=2, label="human expert (published)")
    ax.plot(x, digits["published_cnn"], marker="D", color="0.5", ls=":",
            label=f"CNN (published, r={digits['published_r_human_cnn']:.2f})")  # fmt: skip
    ax.set(xticks=x, xlabel="true digit", ylabel="test error (%)", ylim=(0, 100), title="every model")
    strong = {m: n for m, n in models.items() if np.mean(n["error_rate"]) <= STRONG_ERROR}
    series = [
        ("human", digits["human"], "black"),
        *((m, n["error_rate"], colours[m]) for m, n in strong.items()),
    ]
    width = 0.8 / len(series)
    for i, (_, errors, colour) in enumerate(series):
        zoom.bar(x + (i - (len(series) - 1) / 2) * width, errors, width, color=colour)
    zoom.scatter(x, digits["published_cnn"], marker="_", s=200, linewidths=2, color="0.5", zorder=3)
    top = max(5.0, 1.1 * max(max(errors) for _, errors, _ in series), 1.1 * max(digits["published_cnn"]))
    ylabel = f"test error (%), models with mean error ≤ {STRONG_ERROR:g} %"
    zoom.set(xticks=x, xlabel="true digit", ylim=(0, top), title="zoom; black: human", ylabel=ylabel)
    zoom.grid(axis="y", alpha=0.3)
    fig.suptitle("Per-digit test error, end of training (mean over seeds)")
    return save(fig, path)
