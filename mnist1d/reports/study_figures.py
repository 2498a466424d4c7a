"""The study report's figures (matplotlib, Agg): accuracy bars per step budget, learning curves, and
accuracy vs parameter count. Every figure is FIGURE_SIZE_PX, one fixed colour per model across figures."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from mnist1d.atomic import save_figure
from mnist1d.training.compose import config_options

DPI = 100
FIGURE_SIZE_PX = (900, 500)
HUMAN_STYLE = {"color": "black", "linestyle": "--", "linewidth": 1.2}
Stat = dict[str, Any]  # `common.summary` of one model's accuracies (percent) over seeds


class Curve(NamedTuple):
    """A learning curve over seeds: mean and the min-max band, in percent, at each evaluated step."""

    steps: list[int]
    mean: list[float]
    low: list[float]
    high: list[float]


def model_colours(models: Sequence[str]) -> dict[str, tuple[float, ...]]:
    """tab10 colours by position among the model configs (conf/train/model/), so a model keeps its colour in
    every figure."""
    palette = plt.get_cmap("tab10").colors
    names = config_options("model")
    names += sorted(set(models) - set(names))
    return {name: palette[names.index(name) % len(palette)] for name in models}


def new_figure() -> tuple[Figure, plt.Axes]:
    width, height = FIGURE_SIZE_PX
    return plt.subplots(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained")


def finish(fig: Figure, ax: plt.Axes, path: Path, xlabel: str, ylabel: str, title: str) -> Path:
    """Label an accuracy figure (0-100 %), add the legend, and save it as a PNG of exactly FIGURE_SIZE_PX."""
    ax.set_ylim(0, 100)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    fig.legend(loc="outside right upper")
    (png,) = save_figure(fig, path.parent, path.stem, formats=("png",), dpi=DPI, bbox_inches=None)
    return png


def accuracy_bars(
    path: Path, steps: int, stats: dict[str, Stat], human: float | None, published: dict[str, float]
) -> Path:
    """Final accuracy per model (in the order given) at one step budget: mean with std error bars over seeds,
    the human line and the published numbers."""
    fig, ax = new_figure()
    models = list(stats)
    colours = model_colours(models)
    for x, model in enumerate(models):
        stat = stats[model]
        ax.bar(
            x,
            stat["mean"],
            yerr=stat["std"],
            capsize=5,
            color=colours[model],
            label=f"{model} (n={stat['n']})",
        )
    marked = [(x, published[m]) for x, m in enumerate(models) if m in published]
    if marked:
        ax.scatter(*zip(*marked, strict=True), marker="D", color="black", zorder=3, label="published")
    if human is not None:
        ax.axhline(human, **HUMAN_STYLE, label=f"human ({human:g}%)")
    ax.set_xticks(range(len(models)), models)
    title = f"Test accuracy after {steps} steps (mean ± std over seeds)"
    return finish(fig, ax, path, "model", "final test accuracy (%)", title)


def learning_curves(path: Path, curves: dict[str, Curve], human: float | None) -> Path:
    """Test accuracy vs step: mean over seeds with a min-max band, one colour per model."""
    fig, ax = new_figure()
    colours = model_colours(list(curves))
    for model in curves:
        curve = curves[model]
        ax.plot(curve.steps, curve.mean, marker=".", color=colours[model], label=model)
        ax.fill_between(curve.steps, curve.low, curve.high, color=colours[model], alpha=0.2, linewidth=0)
    if human is not None:
        ax.axhline(human, **HUMAN_STYLE, label="human")
    title = "Learning curves (mean over seeds, band: min-max)"
    return finish(fig, ax, path, "training step", "test accuracy (%)", title)


def accuracy_vs_parameters(path: Path, points: dict[str, tuple[int, Stat]], steps: int) -> Path:
    """Final accuracy vs parameter count (log scale) at one step budget, std error bars over seeds."""
    fig, ax = new_figure()
    colours = model_colours(list(points))
    for model, (parameters, stat) in points.items():
        ax.errorbar(parameters, stat["mean"], yerr=stat["std"], fmt="o", markersize=8, capsize=4,
                    color=colours[model], label=f"{model} ({parameters:,})")  # fmt: skip
    ax.set_xscale("log")
    title = f"Accuracy vs parameter count after {steps} steps"
    return finish(fig, ax, path, "parameters (log scale)", "final test accuracy (%)", title)
