"""The study report's figures (matplotlib, Agg): accuracy bars per step budget, learning curves (per budget
and overall) with the published log's points, accuracy vs parameter count beside the published models, and
per-digit errors beside the human expert's. Every figure is FIGURE_SIZE_PX, one fixed colour per model across
figures (`common.model_colour`). The papers' claims are about differences between 90 and 100 %, so the
accuracy figures add a panel zoomed on ZOOM % beside the whole 0-100 % range."""

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
from mnist1d.reports.common import error_bar, model_colour

DPI = 100
FIGURE_SIZE_PX = (900, 500)
HUMAN_STYLE = {"color": "black", "linestyle": "--", "linewidth": 1.2}
ZOOM = (85.0, 100.0)  # the zoomed panel's accuracy range (%)
STRONG_ERROR = 15.0  # models whose mean per-digit error is at most this are drawn in the zoomed digit panel
SHARED_COUNT_STEP = 1.3  # models with counts closer than this factor are drawn this factor apart (log x)
PUBLISHED_OFFSET = 1.1  # a published model's marker sits this factor right of ours
Stat = dict[str, Any]  # `common.seed_stats` of one model's accuracies (percent) over seeds


class Curve(NamedTuple):
    """A learning curve over seeds: mean and the min-max band, in percent, at each evaluated step."""

    steps: list[int]
    mean: list[float]
    low: list[float]
    high: list[float]
    n: int = 1


def model_colours(models: Sequence[str]) -> dict[str, str]:
    return {model: model_colour(model) for model in models}


def new_figure(panels: int = 1) -> tuple[Figure, Any]:
    """A FIGURE_SIZE_PX figure; with two panels the second (the zoom) is narrower."""
    width, height = FIGURE_SIZE_PX
    ratios = {"width_ratios": [3, 2]} if panels == 2 else None
    return plt.subplots(1, panels, figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained",
                        gridspec_kw=ratios)  # fmt: skip


def save(fig: Figure, path: Path, legend: bool = True) -> Path:
    """Add the legend outside on the right (unless the figure placed its own) and save as a PNG of exactly
    FIGURE_SIZE_PX."""
    if legend:
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
    path: Path,
    curves: dict[str, Curve],
    human: float | None,
    steps: int | None = None,
    published: dict[str, Curve] | None = None,
) -> Path:
    """Test accuracy vs step: mean over seeds with a min-max band, one colour per model; whole range and
    zoomed. `steps`: the budget the curves end at (the title says so). `published`: a paper's printed
    points of the same models (one run each), drawn as hollow diamonds up to the budget."""
    fig, axes = new_figure(2)
    colours = model_colours(list(curves))
    end = max((curve.steps[-1] for curve in curves.values() if curve.steps), default=0)
    for ax in axes:
        for model, curve in curves.items():
            label = f"{model} (n={curve.n})" if ax is axes[0] else None
            ax.plot(curve.steps, curve.mean, marker=".", markersize=3, color=colours[model], label=label)
            if curve.n > 1:
                ax.fill_between(curve.steps, curve.low, curve.high, color=colours[model], alpha=0.2, lw=0)
            if published and model in published:
                shown = [(s, v) for s, v in zip(published[model].steps, published[model].mean, strict=True)
                         if s <= end]  # fmt: skip
                if shown:
                    ax.scatter(*zip(*shown, strict=True), marker="D", s=28, facecolors="none",
                               edgecolors=colours[model], linewidths=1.3, zorder=3)  # fmt: skip
        if human is not None:
            ax.axhline(human, **HUMAN_STYLE, label="human" if ax is axes[0] else None)
    if published and any(model in published for model in curves):
        axes[0].scatter([], [], marker="D", facecolors="none", edgecolors="black", label="published log")
    budget = f"{steps} steps" if steps else "longest runs"
    axes[0].set_ylim(0, 100)
    axes[0].set(xlabel="training step", ylabel="test accuracy (%)", title="0-100 %")
    zoomed(axes[1], "training step")
    fig.suptitle(f"Learning curves, {budget}: mean over seeds, band: min-max")
    return save(fig, path)


def spread(counts: dict[str, float]) -> dict[str, float]:
    """x positions (log scale) for models by parameter count: counts within a factor SHARED_COUNT_STEP of
    each other are drawn that factor apart, so no marker hides another."""
    ordered = sorted(counts, key=counts.get)
    groups: list[list[str]] = []
    for model in ordered:
        if groups and counts[model] < counts[groups[-1][-1]] * SHARED_COUNT_STEP:
            groups[-1].append(model)
        else:
            groups.append([model])
    moved = {}
    for group in groups:
        centre = np.exp(np.mean([np.log(counts[m]) for m in group]))
        for i, model in enumerate(group):
            moved[model] = float(centre * SHARED_COUNT_STEP ** (i - (len(group) - 1) / 2))
    return moved


def accuracy_vs_parameters(
    path: Path,
    points: dict[str, tuple[int, Stat]],
    steps: int,
    published: dict[str, tuple[int, float]] | None = None,
) -> Path:
    """Final accuracy vs parameter count (log scale) at one step budget: ours (filled, std error bars over
    seeds) and the published models (hollow diamonds, one run each, just right of ours); whole range and
    zoomed. Models with nearly the same count are drawn side by side; the legend gives every count, ours
    and published."""
    fig, (ax, zoom) = new_figure(2)
    colours = model_colours(list(points))
    published = published or {}
    x = spread({model: count for model, (count, _) in points.items()})
    for axis in (ax, zoom):
        for model, (count, stat) in points.items():
            label = None
            if axis is ax:
                theirs = f", published {published[model][0]:,}" if model in published else ""
                label = f"{model}: {count:,}{theirs} (n={stat['n']})"
            axis.errorbar(x[model], stat["mean"], yerr=error_bar(stat), fmt="o", markersize=7, capsize=4,
                          color=colours[model], label=label, zorder=2)  # fmt: skip
            if model in published:
                hollow = {"facecolors": "none", "edgecolors": colours[model], "linewidths": 1.5}
                axis.scatter(x[model] * PUBLISHED_OFFSET, published[model][1], marker="D", s=60, zorder=3,
                             **hollow)  # fmt: skip
        axis.set_xscale("log")
    if published:
        ax.scatter([], [], marker="D", facecolors="none", edgecolors="black", label="published (one run)")
    strong = [x[m] for m, (_, stat) in points.items() if stat["mean"] >= ZOOM[0]]
    if strong:
        zoom.set_xlim(min(strong) / 1.5, max(strong) * 1.5)
    ax.set_ylim(0, 100)
    ax.set(xlabel="parameters (log scale)", ylabel="final test accuracy (%)", title="0-100 %")
    ax.legend(loc="lower right", fontsize=7, title="parameters: ours, published", title_fontsize=7)
    zoomed(zoom, "parameters (log scale)")
    fig.suptitle(f"Accuracy vs parameter count after {steps} steps")
    return save(fig, path, legend=False)


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
    cnn_label = f"reference CNN, read off its figure (r={digits['published_r_human_cnn']:.2f})"
    ax.plot(x, digits["published_cnn"], marker="D", color="0.5", ls=":", label=cnn_label)
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
