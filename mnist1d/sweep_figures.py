"""The study report's figures (matplotlib, Agg): accuracy bars per step budget, learning curves, and
accuracy vs parameter count. Every figure is FIGURE_SIZE_PX, one fixed colour per model across figures."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from mnist1d.atomic import atomic_open

MODEL_ORDER = ("logistic", "mlp", "cnn", "gru", "resnet", "tcn", "dcnn")
DPI = 100
FIGURE_SIZE_PX = (900, 500)
HUMAN_STYLE = {"color": "black", "linestyle": "--", "linewidth": 1.2}


class Stat(NamedTuple):
    """Mean, standard deviation and number of seeds of an accuracy (percent)."""

    mean: float
    std: float
    n: int


class Curve(NamedTuple):
    """A learning curve over seeds: mean and the min-max band, in percent, at each evaluated step."""

    steps: list[int]
    mean: list[float]
    low: list[float]
    high: list[float]


def ordered(models: Sequence[str]) -> list[str]:
    known = [m for m in MODEL_ORDER if m in models]
    return known + sorted(set(models) - set(known))


def model_colours(models: Sequence[str]) -> dict[str, tuple[float, ...]]:
    """tab10 colours by position in MODEL_ORDER, so a model keeps its colour in every figure."""
    palette = plt.get_cmap("tab10").colors
    names = list(MODEL_ORDER) + sorted(set(models) - set(MODEL_ORDER))
    return {name: palette[names.index(name) % len(palette)] for name in models}


def new_figure() -> tuple[Figure, plt.Axes]:
    width, height = FIGURE_SIZE_PX
    return plt.subplots(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained")


def save(fig: Figure, path: Path) -> Path:
    """Save through a temporary file and rename, so a reader never sees half a PNG."""
    with atomic_open(path) as file:
        fig.savefig(file, format="png", dpi=DPI)
    plt.close(fig)
    return path


def accuracy_bars(
    path: Path, steps: int, stats: dict[str, Stat], human: float | None, published: dict[str, float]
) -> Path:
    """Final accuracy per model at one step budget: mean with std error bars over seeds, the human line and
    the published numbers."""
    fig, ax = new_figure()
    models = ordered(list(stats))
    colours = model_colours(models)
    for x, model in enumerate(models):
        stat = stats[model]
        ax.bar(x, stat.mean, yerr=stat.std, capsize=5, color=colours[model], label=f"{model} (n={stat.n})")
    marked = [(x, published[m]) for x, m in enumerate(models) if m in published]
    if marked:
        ax.scatter(*zip(*marked, strict=True), marker="D", color="black", zorder=3, label="published")
    if human is not None:
        ax.axhline(human, **HUMAN_STYLE, label=f"human ({human:g}%)")
    ax.set_xticks(range(len(models)), models)
    ax.set_ylim(0, 100)
    ax.set_xlabel("model")
    ax.set_ylabel("final test accuracy (%)")
    ax.set_title(f"Test accuracy after {steps} steps (mean ± std over seeds)")
    fig.legend(loc="outside right upper")
    return save(fig, path)


def learning_curves(path: Path, curves: dict[str, Curve], human: float | None) -> Path:
    """Test accuracy vs step: mean over seeds with a min-max band, one colour per model."""
    fig, ax = new_figure()
    colours = model_colours(list(curves))
    for model in ordered(list(curves)):
        curve = curves[model]
        ax.plot(curve.steps, curve.mean, marker=".", color=colours[model], label=model)
        ax.fill_between(curve.steps, curve.low, curve.high, color=colours[model], alpha=0.2, linewidth=0)
    if human is not None:
        ax.axhline(human, **HUMAN_STYLE, label="human")
    ax.set_ylim(0, 100)
    ax.set_xlabel("training step")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Learning curves (mean over seeds, band: min-max)")
    fig.legend(loc="outside right upper")
    return save(fig, path)


def accuracy_vs_parameters(path: Path, points: dict[str, tuple[int, Stat]], steps: int) -> Path:
    """Final accuracy vs parameter count (log scale) at one step budget, std error bars over seeds."""
    fig, ax = new_figure()
    colours = model_colours(list(points))
    for model in ordered(list(points)):
        parameters, stat = points[model]
        ax.errorbar(parameters, stat.mean, yerr=stat.std, fmt="o", markersize=8, capsize=4,
                    color=colours[model], label=f"{model} ({parameters:,})")  # fmt: skip
    ax.set_xscale("log")
    ax.set_ylim(0, 100)
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel("final test accuracy (%)")
    ax.set_title(f"Accuracy vs parameter count after {steps} steps")
    fig.legend(loc="outside right upper")
    return save(fig, path)
