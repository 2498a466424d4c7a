"""Self-supervised contrastive learning on MNIST-1D, and which layer of the encoder to read out.

`python -m mnist1d.apps.self_supervised` (config `conf/apps/self_supervised.yaml`), in the setup of the
reference notebook (self-supervised-learning): the paper's CNN trunk under a projection head learns, without
labels, to match two augmented views of every training sample (each view: the signal's mean and linear trend
removed, shifted circularly by up to 9 positions, a random slope and offset added) against the other
samples of its batch (InfoNCE, temperature 0.5; Adam 0.01, batches of 100, 200 epochs). Then a logistic
regression on every layer's activations measures how linearly the digits can be read from it, with three
heads: the default (125-125-16), none, and a deep one. Published (one run each): the trunk's output is read
out best (82 %), 7 points better than the head's output and 21 points better with the deep head: removing
the projection head ("guillotine regularisation") helps, as for SSL on images.

Pre-training has its own loop: it learns from pairs of augmented views without labels, which the
framework's classifier path (`Classifier`, cross-entropy on labels) does not do; the read-outs are the
notebook's scikit-learn models.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig, ListConfig
from torch import Tensor

from mnist1d.apps.common import Report, check_app, dataset_tensors, finished_numbers, positive
from mnist1d.atomic import write_json
from mnist1d.config.compose import APPS_CONF, config_path
from mnist1d.errors import reported_as_message
from mnist1d.extras import MissingExtra, require
from mnist1d.models.contrastive_cnn import ContrastiveCNN
from mnist1d.reports import self_supervised as ssl_report
from mnist1d.rules import Rule, Together, is_int, is_number, refuse

log = logging.getLogger(__name__)
NAME = "self_supervised"


def is_widths(widths: Any) -> bool:
    """A projection head: a list of layer widths (integers >= 1), possibly empty."""
    return isinstance(widths, ListConfig | list) and all(is_int(w) and w >= 1 for w in widths)


# What the config must be, checked before any work (see mnist1d/rules.py).
RULES = (
    *(positive(f, int) for f in ("seeds", "channels", "epochs", "batch_size", "eval_every", "knn_neighbors")),
    positive("probe_max_iter", int),
    *(positive(field) for field in ("lr", "temperature", "probe_tol")),
    Rule("augment.max_shift", "an integer >= 0", lambda v: is_int(v) and v >= 0),
    Rule("augment.slope_std", "a number >= 0", lambda v: is_number(v) and v >= 0),
    Rule("augment.offset_std", "a number >= 0", lambda v: is_number(v) and v >= 0),
    Rule(
        "heads",
        "a mapping of names to lists of layer widths (integers >= 1; [] for none)",
        lambda v: len(v) > 0 and all(is_widths(w) for w in v.values()),
    ),
    Together(
        ("batch_size", "data.num_samples", "data.train_split"),
        "is invalid: batch_size must be at most the training samples",
        lambda batch, n, split: batch <= int(n * split),
    ),
)


def augment(
    x: Tensor, generator: torch.Generator, max_shift: int, slope_std: float, offset_std: float
) -> Tensor:
    """One random view of every signal (rows of `x`): its mean and linear trend removed, shifted circularly by
    0 .. max_shift - 1 positions, then a random slope N(0, slope_std) and offset N(0, offset_std) added."""
    n, length = x.shape
    t = torch.arange(length, dtype=x.dtype) - (length - 1) / 2
    x = x - x.mean(1, keepdim=True)
    x = x - (x @ t / (t @ t))[:, None] * t
    if max_shift > 0:
        shift = torch.randint(0, max_shift, (n, 1), generator=generator)
        x = x.gather(1, (torch.arange(length) - shift) % length)  # torch.roll of each row by its own shift
    slope = slope_std * torch.randn(n, 1, generator=generator)
    offset = offset_std * torch.randn(n, 1, generator=generator)
    return x + slope * t + offset


def info_nce(first: Tensor, second: Tensor, temperature: float) -> Tensor:
    """InfoNCE with half-batch repulsion, as the reference: each first view must pick its own second view
    among the batch's second views by cosine similarity / temperature (cross-entropy)."""
    logits = F.normalize(first) @ F.normalize(second).T / temperature
    return F.cross_entropy(logits, torch.arange(len(first), device=first.device))


def linear_accuracy(
    features: tuple[np.ndarray, np.ndarray], data: dict[str, Tensor], cfg: DictConfig
) -> float:
    """Test accuracy of a logistic regression (standardised features) trained on the training features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(
        StandardScaler(), LogisticRegression(tol=cfg.probe_tol, max_iter=cfg.probe_max_iter)
    )
    probe.fit(features[0], data["y"].numpy())
    return float(probe.score(features[1], data["y_test"].numpy()))


def knn_accuracy(features: tuple[np.ndarray, np.ndarray], data: dict[str, Tensor], cfg: DictConfig) -> float:
    """Test accuracy of a k-nearest-neighbour classifier with cosine distance."""
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=cfg.knn_neighbors, metric="cosine")
    knn.fit(features[0], data["y"].numpy())
    return float(knn.score(features[1], data["y_test"].numpy()))


@torch.no_grad()
def layer_features(net: ContrastiveCNN, data: dict[str, Tensor]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) activations of every layer of `net` (see `ContrastiveCNN.layers`), unaugmented."""
    train, test = net.layers(data["x"]), net.layers(data["x_test"])
    return [(a.numpy(), b.numpy()) for a, b in zip(train, test, strict=True)]


def read_out(net: ContrastiveCNN, data: dict[str, Tensor], cfg: DictConfig) -> dict[str, float]:
    """The notebook's periodic read-outs: kNN on the output, logistic regression on the trunk's output."""
    layers = layer_features(net, data)
    trunk = layers[net.trunk_layer]
    return {
        "knn_output": knn_accuracy(layers[-1], data, cfg),
        "linear_trunk": linear_accuracy(trunk, data, cfg),
    }


def pretrain(
    net: ContrastiveCNN, data: dict[str, Tensor], cfg: DictConfig, generator: torch.Generator, report: Report,
    progress: Iterator[int], tag: str,
) -> dict[str, list[float]]:  # fmt: skip
    """Contrastive training on the training split; the read-outs every `eval_every` epochs."""
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    x, views = data["x"], cfg.augment
    curve: dict[str, list[float]] = {"epochs": [], "loss": [], "knn_output": [], "linear_trunk": []}
    for epoch in range(1, cfg.epochs + 1):
        order = torch.randperm(len(x), generator=generator)
        losses = []
        for start in range(0, len(x) - cfg.batch_size + 1, cfg.batch_size):  # whole batches, as the reference
            batch = x[order[start : start + cfg.batch_size]]
            first, second = (net(augment(batch, generator, **views)) for _ in range(2))
            loss = info_nce(first, second, cfg.temperature)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
        if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
            net.eval()
            point = {"epochs": epoch, "loss": torch.stack(losses).mean().item(), **read_out(net, data, cfg)}
            net.train()
            for key, value in point.items():
                curve[key].append(value)
            report.log({f"{tag}/{key}": value for key, value in point.items()}, next(progress))
            log.info("%s, epoch %d: loss %.3f, kNN (output) %.3f, linear (trunk) %.3f", tag, *point.values())
    return curve


def train_head(
    cfg: DictConfig, head: str, seed: int, data: dict[str, Tensor], report: Report, progress: Iterator[int]
) -> tuple[ContrastiveCNN, dict[str, Any]]:
    """Pre-train one encoder (head `head`, seed `seed`) and read out every layer."""
    torch.manual_seed(seed)
    net = ContrastiveCNN(data["x"].shape[1], cfg.channels, list(cfg.heads[head]))
    generator = torch.Generator().manual_seed(seed)
    curve = pretrain(net, data, cfg, generator, report, progress, f"{head}/seed{seed}")
    net.eval()
    layers = layer_features(net, data)
    record = {
        "seed": seed,
        "linear_by_layer": [linear_accuracy(features, data, cfg) for features in layers],
        "knn_output": knn_accuracy(layers[-1], data, cfg),
        "curve": curve,
    }
    log.info(
        "%s, seed %d: linear accuracy by layer %s",
        head,
        seed,
        [f"{a:.3f}" for a in record["linear_by_layer"]],
    )
    return net, record


@torch.no_grad()
def tsne(net: ContrastiveCNN, data: dict[str, Tensor], seed: int) -> dict[str, list]:
    """2-D t-SNE (cosine) of the encoder's output on the training split, for the figure."""
    from sklearn.manifold import TSNE

    points = TSNE(metric="cosine", init="pca", random_state=seed).fit_transform(net(data["x"]).numpy())
    return {"points": points.round(3).tolist(), "labels": data["y"].tolist()}


def validate(cfg: DictConfig) -> None:
    """Refuse a bad config before any work; the config's preflight runs this before Hydra creates the run
    directory (mnist1d/preflight.py)."""
    check_app(cfg, NAME)
    refuse(RULES, cfg)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Every head from every seed; the figure, tables and JSON into the run directory."""
    validate(cfg)
    if cfg.report:
        return remake_report(cfg.report)
    require("sklearn", "python -m mnist1d.apps.self_supervised")  # the read-outs are scikit-learn's
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    report = Report(NAME, cfg)
    data = dataset_tensors(cfg.data, cfg.paths.cache_dir)
    progress = itertools.count()
    numbers: dict[str, Any] = {"heads": {head: [] for head in cfg.heads}, "tsne": None}
    with threadpool_limits(cfg.threads):  # scikit-learn's BLAS as torch: the run's thread budget
        for head in cfg.heads:
            for seed in range(cfg.seed, cfg.seed + cfg.seeds):
                net, record = train_head(cfg, head, seed, data, report, progress)
                numbers["heads"][head].append(record)
                if cfg.tsne and numbers["tsne"] is None:  # the first head and seed, as the paper's panel
                    numbers["tsne"] = {"head": head, "seed": seed, **tsne(net, data, seed)}
    write_json(report.out_dir / f"{NAME}.json", numbers)  # kept if the figure fails: `report=` remakes it
    report.figure(ssl_report.figure(numbers), NAME)
    ssl_report.write_tables(numbers, report.out_dir)
    return report.close(numbers)


def remake_report(run_dir: str) -> dict[str, Any]:
    """The figure and tables of a finished run, from its self_supervised.json (nothing is trained)."""
    numbers = finished_numbers(NAME, run_dir)
    ssl_report.save(numbers, Path(run_dir))
    return numbers


@hydra.main(config_path=config_path(APPS_CONF), config_name=NAME, version_base="1.3")
def main(cfg: DictConfig) -> None:
    with reported_as_message(ValueError, MissingExtra):  # the apps refuse bad settings with a ValueError
        numbers = run(cfg)
    print(ssl_report.summary_line(numbers))


if __name__ == "__main__":
    main()
