"""Figures of the MNIST-1D dataset: `python -m mnist1d.apps.dataset_figures` (conf/apps/dataset_figures.yaml).

Writes, as PNG + PDF into the run directory: the ten digit templates; the construction of a few digits stage
by stage (one y-axis for every panel, so that each stage's change of scale shows); a grid of training samples
per class; and the paper's Fig. 5: a t-SNE embedding of MNIST-1D beside one of a 2-D image digit dataset,
with the kNN (k = 10) test accuracy in pixel space on each panel, and MNIST-1D's logistic-regression accuracy
beside the published ones: the image digits form clusters in input space, MNIST-1D's classes do not. The
image dataset is MNIST when `tsne.image_dataset` names a local copy (it cannot be downloaded here), else
scikit-learn's 8x8 digits, which ship with scikit-learn and are labelled as such. `dataset_figures.json`
holds the numbers.

The construction stages are computed with the generator's own `transform_batch`: each stage is the
generator's output with every later transform switched off (its scale set to zero, no shift, no
downsampling) on the same random draws, so the last stage is exactly the generated sample (before the
dataset-wide standardisation).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, NamedTuple

import hydra
import matplotlib
import numpy as np
from omegaconf import DictConfig

from mnist1d import vectorised
from mnist1d.apps.common import Report, positive
from mnist1d.config.compose import APPS_CONF, config_path
from mnist1d.data import get_templates, load_dataset
from mnist1d.dataset_config import DatasetConfig
from mnist1d.errors import reported_as_message
from mnist1d.extras import MissingExtra, require
from mnist1d.reports.common import published
from mnist1d.rules import Rule, refuse

matplotlib.use("Agg")
import matplotlib.pyplot as plt

log = logging.getLogger(__name__)
NAME = "dataset_figures"
NOISE_FREE = {"scale_coeff": 0.0, "corr_noise_scale": 0.0, "iid_noise_scale": 0.0, "shear_scale": 0.0}
# Stage after padding: the generator arguments switched on so far (in the generator's order), and whether
# the translation is on. Downsampling to `final_seq_length` is the last stage.
STAGES = (
    ("dilated", (), False),
    ("scaled", ("scale_coeff",), False),
    ("shifted", ("scale_coeff",), True),
    ("correlated noise", ("scale_coeff", "corr_noise_scale"), True),
    ("iid noise", ("scale_coeff", "corr_noise_scale", "iid_noise_scale"), True),
    ("sheared", tuple(NOISE_FREE), True),
)


def construction_stages(config: DatasetConfig, digits: list[int]) -> dict[str, list[np.ndarray]]:
    """Every stage of the generator's transform for `digits`, with draws from the stream of `config.seed`.

    Returns stage name -> one array per digit: "padded" (template + its zero padding), the STAGES, and
    "downsampled", the generator's sample itself.
    """
    templates = np.asarray(get_templates()["x"])
    labels = np.asarray(digits)
    seq_len = config.template_len + config.padding[-1]
    draws = vectorised.Stream(config.seed, len(labels)).draw(len(labels), seq_len, config.max_translation)
    unshifted = draws._replace(shift=np.zeros_like(draws.shift))
    low, high = config.padding
    pads = low + (draws.pad_u * (high - low + 1)).astype(int)  # each sample's pad length, as the generator's

    stages: dict[str, list[np.ndarray]] = {"padded": []}
    for i, pad in enumerate(pads.tolist()):  # padding alone: a "dilation" onto exactly template + pad points
        length = config.template_len + pad
        one = vectorised.Draws(*(a[i : i + 1] for a in unshifted))._replace(gauss=np.zeros((1, 2 * length)))
        only_pad = vectorised.Dilation(templates, (pad, pad), length)
        bare = dataclasses.replace(config, **NOISE_FREE, final_seq_length=length)
        stages["padded"].append(vectorised.transform_batch(labels[i : i + 1], one, only_pad, bare)[0])

    dilation = vectorised.Dilation(templates, config.padding, seq_len)
    for stage, switched_on, shifted in STAGES:
        args = {**NOISE_FREE, **{arg: getattr(config, arg) for arg in switched_on}}
        partial = dataclasses.replace(config, **args, final_seq_length=seq_len)
        stages[stage] = list(
            vectorised.transform_batch(labels, draws if shifted else unshifted, dilation, partial)
        )
    stages["downsampled"] = list(vectorised.transform_batch(labels, draws, dilation, config))
    return stages


def plot_templates() -> plt.Figure:
    templates = get_templates()
    fig, axes = plt.subplots(2, 5, figsize=(10, 3.6), sharex=True, sharey=True)
    for digit, ax in zip(templates["y"], axes.flat, strict=True):
        ax.plot(templates["t"], templates["x"][digit], "o-", color=plt.cm.tab10(digit), lw=2, ms=3)
        ax.set_title(f"digit {digit}")
        ax.grid(alpha=0.3)
    fig.supxlabel("position t (12 points)")
    fig.supylabel("template value")
    fig.tight_layout()
    return fig


def plot_construction(stages: dict[str, list[np.ndarray]], digits: list[int]) -> plt.Figure:
    fig, axes = plt.subplots(
        len(digits), len(stages), figsize=(2 * len(stages), 1.6 * len(digits)), squeeze=False, sharey=True
    )
    for col, (stage, rows) in enumerate(stages.items()):
        axes[0, col].set_title(stage, fontsize=10)
        for row, (digit, values) in enumerate(zip(digits, rows, strict=True)):
            ax = axes[row, col]
            ax.plot(np.linspace(0, 1, len(values)), values, color=plt.cm.tab10(digit), lw=1.5)
            ax.set_xticks([])
            ax.grid(axis="y", alpha=0.3)
            ax.text(0.98, 0.95, f"n={len(values)}", transform=ax.transAxes, ha="right", va="top", fontsize=7)
            if col == 0:
                ax.set_ylabel(f"digit {digit}")
    fig.supxlabel("position (fraction of the sequence; n = number of points); one y-axis for every panel")
    fig.tight_layout()
    return fig


def plot_samples(x: np.ndarray, y: np.ndarray, per_class: int) -> plt.Figure:
    fig, axes = plt.subplots(
        10, per_class, figsize=(1.6 * per_class, 9), sharex=True, sharey=True, squeeze=False
    )
    for digit in range(10):
        for col, index in enumerate(np.flatnonzero(y == digit)[:per_class]):
            ax = axes[digit, col]
            ax.plot(x[index], color=plt.cm.tab10(digit), lw=1.2)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[digit, 0].set_ylabel(f"digit {digit}", rotation=0, ha="right", va="center")
    fig.suptitle(f"First {per_class} training samples of each class (40 points each)")
    fig.tight_layout()
    return fig


def pixel_baselines(data: dict[str, np.ndarray], k: int, seed: int) -> dict[str, float]:
    """Test accuracy of kNN and logistic regression on the raw 40-point inputs (no features, no network)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=k).fit(data["x"], data["y"])
    logistic = LogisticRegression(max_iter=2000, random_state=seed).fit(data["x"], data["y"])
    return {"knn": knn.score(data["x_test"], data["y_test"]),
            "logistic": logistic.score(data["x_test"], data["y_test"])}  # fmt: skip


class Embedded(NamedTuple):
    """A dataset's t-SNE embedding, its labels and its pixel-space kNN test accuracy, for one panel."""

    name: str
    embedding: np.ndarray
    labels: np.ndarray
    knn: float
    knn_note: str


def image_digits(path: str | None, points: int, seed: int) -> dict[str, Any]:
    """A 2-D image digit dataset, flattened: MNIST from a local `.npz` (`x_train`, `y_train`, `x_test`,
    `y_test`, as Keras' mnist.npz, or `x`, `y`, `x_test`, `y_test`) when `path` is given, else
    scikit-learn's 8x8 digits (1797 images, split 75 / 25 here). At most `points` training images."""
    if path:
        with np.load(path) as archive:
            key = "x_train" if "x_train" in archive else "x"
            x, y = archive[key], archive["y_train" if key == "x_train" else "y"]
            x_test, y_test = archive["x_test"], archive["y_test"]
        name = f"MNIST ({Path(path).name}, {x.shape[1]}x{x.shape[2]} pixels)" if x.ndim == 3 else "MNIST"
    else:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        digits = load_digits()
        x, x_test, y, y_test = train_test_split(
            digits.data, digits.target, test_size=0.25, random_state=seed, stratify=digits.target
        )
        name = "scikit-learn 8x8 digits (not MNIST)"
    flat = lambda a: np.asarray(a, dtype=np.float32).reshape(len(a), -1)  # noqa: E731
    return {"name": name, "x": flat(x)[:points], "y": np.asarray(y)[:points], "x_test": flat(x_test),
            "y_test": np.asarray(y_test)}  # fmt: skip


def plot_tsne(panels: list[Embedded], k: int, baselines: dict, published: dict) -> plt.Figure:
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 6.8), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        for digit in range(10):
            points = panel.embedding[panel.labels == digit]
            ax.scatter(
                points[:, 0], points[:, 1], s=4, color=plt.cm.tab10(digit), label=str(digit), alpha=0.8
            )
        ax.set(xticks=[], yticks=[], title=f"{panel.name}: t-SNE of {len(panel.labels)} training samples")
        text = f"kNN (k = {k}) test accuracy\nin pixel space: {100 * panel.knn:.1f} %\n({panel.knn_note})"
        ax.text(0.02, 0.02, text, transform=ax.transAxes, fontsize=10, va="bottom",
                bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "0.7"})  # fmt: skip
    axes[0, -1].legend(
        title="class", markerscale=3, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False
    )
    mnist1d = (
        "MNIST-1D, pixel space\n(ours vs published)\n\n"
        f"kNN, k = {k}:\n  {100 * baselines['knn']:.1f} % vs {published['knn']:.1f} %\n"
        f"logistic regression:\n  {100 * baselines['logistic']:.1f} % vs {published['logistic']:.1f} %"
    )
    axes[0, -1].text(1.03, 0.45, mnist1d, transform=axes[0, -1].transAxes, va="top", fontsize=10)
    fig.tight_layout()
    return fig


# What the config must be, checked before any work (see mnist1d/rules.py).
RULES = (
    positive("samples_per_class", int),
    positive("knn_k", int),
    positive("tsne.points", int),
    positive("tsne.max_iter", int),
    positive("tsne.perplexity"),
    Rule(
        "tsne.image_dataset",
        "an existing .npz file (or null for scikit-learn's 8x8 digits)",
        lambda v: v is None or Path(v).is_file(),
    ),
    Rule(
        "construction_digits",
        "a non-empty list of digits 0..9",
        lambda v: len(v) > 0 and set(v) <= set(range(10)),
    ),
)


def embed(name: str, data: dict[str, Any], cfg: DictConfig, knn_note: str) -> Embedded:
    """t-SNE of the first `tsne.points` training samples, and the kNN test accuracy in pixel space."""
    from sklearn.manifold import TSNE
    from sklearn.neighbors import KNeighborsClassifier

    n = min(cfg.tsne.points, len(data["x"]))
    tsne = TSNE(perplexity=cfg.tsne.perplexity, max_iter=cfg.tsne.max_iter, random_state=cfg.seed, init="pca")
    embedding = tsne.fit_transform(np.asarray(data["x"][:n], dtype=np.float32))
    knn = (
        KNeighborsClassifier(n_neighbors=cfg.knn_k)
        .fit(data["x"], data["y"])
        .score(data["x_test"], data["y_test"])
    )
    log.info("%s: kNN %.3f, t-SNE KL %.3f", name, knn, tsne.kl_divergence_)
    return Embedded(name, embedding, np.asarray(data["y"][:n]), float(knn), knn_note)


def run(cfg: DictConfig) -> dict:
    """All four figures and the pixel-space numbers, written into the run directory."""
    refuse(RULES, cfg)
    report = Report(NAME, cfg)
    config = DatasetConfig.from_args(cfg.data)
    data = load_dataset(config, cfg.paths.cache_dir)
    digits = list(cfg.construction_digits)
    report.figure(plot_templates(), "templates")
    report.figure(plot_construction(construction_stages(config, digits), digits), "construction")
    report.figure(plot_samples(data["x"], data["y"], cfg.samples_per_class), "samples")

    baselines = pixel_baselines(data, cfg.knn_k, cfg.seed)
    log.info("pixel space: kNN %.3f, logistic regression %.3f", baselines["knn"], baselines["logistic"])
    images = image_digits(cfg.tsne.image_dataset, cfg.tsne.points, cfg.seed)
    panels = [
        embed(images["name"], images, cfg, f"{len(images['x'])} train / {len(images['y_test'])} test images"),
        embed("MNIST-1D", data, cfg, f"{len(data['x'])} train / {len(data['y_test'])} test samples"),
    ]
    reference = published("pixel_space_baselines")
    published_acc = {"knn": reference["knn_k10"], "logistic": reference["sklearn_logistic_regression"]}
    report.figure(plot_tsne(panels, cfg.knn_k, baselines, published_acc), "tsne")
    plt.close("all")
    return report.close(
        {
            "pixel_space_test_acc": baselines,
            "published_pixel_space_test_acc_percent": published_acc,
            "tsne": {p.name: {"points": len(p.labels), "knn_test_acc": p.knn} for p in panels},
        }
    )


@hydra.main(config_path=config_path(APPS_CONF), config_name="dataset_figures", version_base="1.3")
def main(cfg: DictConfig) -> None:
    with reported_as_message(ValueError, MissingExtra):  # the apps refuse bad settings with a ValueError
        require("sklearn", "python -m mnist1d.apps.dataset_figures")
        numbers = run(cfg)
    acc = numbers["pixel_space_test_acc"]
    print(
        f"figures: {numbers['figures']}; pixel-space test accuracy: kNN {100 * acc['knn']:.1f} %, "
        f"logistic regression {100 * acc['logistic']:.1f} %"
    )


if __name__ == "__main__":
    main()
