"""The figure and tables of the self-supervised app (`python -m mnist1d.apps.self_supervised`), ours beside
the reference notebook's printed numbers (published_results.json, `self_supervised`: one run per head).

Every published number is one run, compared with the 95 % prediction interval for one new run from our seeds:
mean ± t · sd · √(1 + 1/n).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from mnist1d.atomic import save_figure, write_text
from mnist1d.reports.common import interval_verdict, prediction_interval, published, seed_stats

STEM = "self_supervised"
STYLES = {"default": ("-", "black"), "none": ("--", "tab:blue"), "deep": ("-.", "tab:green")}


def reference(head: str) -> dict[str, Any] | None:
    return published("self_supervised").get(head)


def per_seed(numbers: dict[str, Any], head: str, key: str) -> np.ndarray:
    """(seeds, ...) of a record's number in %, e.g. `linear_by_layer` or `knn_output`."""
    return 100 * np.array([record[key] for record in numbers["heads"][head]])


def curve(numbers: dict[str, Any], head: str, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Epochs and (seeds, evaluations) of a training curve (accuracies in %, the loss as it is)."""
    records = numbers["heads"][head]
    values = np.array([record["curve"][key] for record in records])
    return np.array(records[0]["curve"]["epochs"]), values if key == "loss" else 100 * values


def mean_sd(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return values.mean(0), values.std(0, ddof=1) if len(values) > 1 else np.zeros(values.shape[1:])


def tsne_panel(ax: Any, tsne: dict[str, Any] | None) -> None:
    if tsne is None:
        ax.set_axis_off()
        return
    points, labels = np.array(tsne["points"]), np.array(tsne["labels"])
    ax.scatter(points[:, 0], points[:, 1], c=labels, s=2, cmap="tab10", vmin=-0.5, vmax=9.5)
    for digit in range(10):
        x, y = np.median(points[labels == digit], axis=0)
        ax.text(x, y, str(digit), fontsize=13, ha="center", va="center", weight="bold")
    ax.set_aspect("equal", "datalim")
    ax.set_axis_off()
    ax.set_title(
        f"a  t-SNE of the output ({tsne['head']} head, seed {tsne['seed']}), training split", loc="left"
    )


def figure(numbers: dict[str, Any]) -> Figure:
    """a: t-SNE of the learned output; b: linear accuracy of every layer per head; c: the default head's
    read-outs during training. Ours: mean ± sd over seeds; published: hollow markers."""
    fig = Figure(figsize=(17, 5.2), layout="constrained")
    ax_tsne, ax_layers, ax_curve = fig.subplots(1, 3, width_ratios=[1.1, 1, 1])
    tsne_panel(ax_tsne, numbers.get("tsne"))
    for head in numbers["heads"]:
        mean, sd = mean_sd(per_seed(numbers, head, "linear_by_layer"))
        layers = np.arange(len(mean))
        style, colour = STYLES.get(head, (":", "tab:purple"))
        ax_layers.errorbar(layers, mean, yerr=sd, ls=style, marker="o", ms=4, capsize=3, color=colour,
                           label=f"{head} (ours)")  # fmt: skip
        theirs = reference(head)
        if theirs is not None:
            accuracy = theirs["linear_by_layer"]
            ax_layers.plot(np.arange(len(accuracy)), accuracy, ls=":", marker="D", mfc="none", ms=7,
                           color=colour, lw=0.8, label=f"{head} (published)")  # fmt: skip
    ax_layers.set(xlabel="layer (0: input; the trunk's output is layer 3)", ylabel="linear accuracy (%)",
                  ylim=(30, 90), title="b  Linear read-out of every layer")  # fmt: skip
    ax_layers.legend(fontsize=8, ncol=2, loc="lower right")
    head = next(iter(numbers["heads"]))
    theirs = reference(head)
    for key, colour, label in (
        ("linear_trunk", "tab:blue", "linear, trunk"),
        ("knn_output", "tab:red", "kNN, output"),
    ):
        epochs, values = curve(numbers, head, key)
        mean, sd = mean_sd(values)
        ax_curve.plot(epochs, mean, color=colour, label=f"{label} (ours)")
        ax_curve.fill_between(epochs, mean - sd, mean + sd, color=colour, alpha=0.2, lw=0)
        if theirs is not None:
            ax_curve.plot(
                theirs["epochs"], theirs[key], "o", mfc="none", color=colour, label=f"{label} (published)"
            )
    seeds = len(numbers["heads"][head])
    ax_curve.set(
        xlabel="epoch", ylabel="test accuracy (%)", title=f"c  Read-outs during training ({head} head)"
    )
    ax_curve.legend(fontsize=8, loc="lower right")
    for ax in (ax_layers, ax_curve):
        ax.grid(alpha=0.3)
    fig.suptitle(f"Contrastive self-supervised learning on MNIST-1D: ours mean ± sd over {seeds} seeds")
    return fig


def cells(ours: np.ndarray, theirs: float | None, digits: int = 1) -> list[str]:
    """Table cells: published, ours mean ± sd (n), the interval for one new run and the verdict."""
    interval = prediction_interval(seed_stats(list(ours)))
    sd = ours.std(ddof=1) if len(ours) > 1 else 0.0
    return [
        "—" if theirs is None else f"{theirs:.{digits}f}",
        f"{ours.mean():.{digits}f} ± {sd:.{digits}f} ({len(ours)})",
        "—" if interval is None else f"[{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]",
        "—" if theirs is None else interval_verdict(theirs, interval),
    ]


def rows(numbers: dict[str, Any]) -> list[str]:
    lines = [
        "| head | read-out | published | ours (n) | 95 % interval | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for head in numbers["heads"]:
        theirs = reference(head) or {}
        by_layer = per_seed(numbers, head, "linear_by_layer")
        published_layers = theirs.get("linear_by_layer", [])
        for layer in range(by_layer.shape[1]):
            value = published_layers[layer] if layer < len(published_layers) else None
            lines.append(
                f"| {head} | linear, layer {layer} | " + " | ".join(cells(by_layer[:, layer], value)) + " |"
            )
        knn = theirs.get("knn_output", [None])[-1]
        lines.append(
            f"| {head} | kNN, output | "
            + " | ".join(cells(per_seed(numbers, head, "knn_output"), knn))
            + " |"
        )
        loss = curve(numbers, head, "loss")[1][:, -1]
        loss_cells = cells(loss, theirs.get("loss", [None])[-1], digits=2)
        lines.append(f"| {head} | loss per batch, last epoch | " + " | ".join(loss_cells) + " |")
        best = by_layer.max(1) - by_layer[:, -1]
        theirs_best = max(published_layers) - published_layers[-1] if published_layers else None
        lines.append(f"| {head} | best layer - output | " + " | ".join(cells(best, theirs_best)) + " |")
    return lines


def write_tables(numbers: dict[str, Any], run_dir: Path) -> Path:
    """self_supervised.md: every published number beside ours, with its interval and verdict."""
    text = "\n".join([
        "# Self-supervised learning",
        "",
        "Test accuracy (%) of read-outs of the contrastively trained encoder. Published: the reference "
        "notebook, one run per head. Interval: 95 % prediction interval for one new run, "
        "mean ± t · sd · √(1 + 1/n) of ours.",
        "",
        *rows(numbers),
        "",
    ])  # fmt: skip
    path = run_dir / f"{STEM}.md"
    write_text(path, text)
    return path


def save(numbers: dict[str, Any], run_dir: Path) -> list[Path]:
    return [*save_figure(figure(numbers), run_dir, STEM), write_tables(numbers, run_dir)]


def summary_line(numbers: dict[str, Any]) -> str:
    parts = []
    for head in numbers["heads"]:
        by_layer = per_seed(numbers, head, "linear_by_layer").mean(0)
        parts.append(
            f"{head}: best layer {by_layer.argmax()} {by_layer.max():.1f} %, output {by_layer[-1]:.1f} %"
        )
    return f"linear accuracy ({'; '.join(parts)}); details in {STEM}.md"
