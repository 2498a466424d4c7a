"""Metalearn an MLP's activation function through unrolled training, then compare it with fixed ones.

`python -m mnist1d.apps.metalearn_activation` (config `conf/apps/metalearn_activation.yaml`).
As in the MNIST-1D paper, the activation is `ELU(x) + 0.2 * g(x)` where `g` is a small tanh MLP of the
scalar input. Each outer step trains a freshly initialised classifier MLP with that activation for a short
unrolled SGD run and follows the gradient of its mean training loss into `g`. Afterwards the learned
activation, ReLU, ELU and Swish each train the same classifier with the same inner run from held-out seeds,
and their test accuracies are compared (published: learned beats the fixed ones by more than 5 points, with
a non-monotonic shape).
"""

from __future__ import annotations

import logging

import hydra
import matplotlib
import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor, nn

from mnist1d.apps.common import Report, check_positive, dataset_tensors
from mnist1d.apps.unroll import accuracy, mlp, split_params, unrolled_sgd
from mnist1d.training.compose import APPS_CONF, config_path

matplotlib.use("Agg")
import matplotlib.pyplot as plt

log = logging.getLogger(__name__)
NAME = "metalearn_activation"
LEARNED = "learned"
FIXED = {"relu": nn.ReLU, "elu": nn.ELU, "swish": nn.SiLU}
META_PREFIX = "1."  # the activation sits between the two Linear layers of `mlp([in, hidden, out], ...)`


class PerturbedELU(nn.Module):
    """ELU(x) + scale * g(x), g a tanh MLP applied to every scalar: ELU plus a learnable perturbation."""

    def __init__(self, hidden: int, scale: float) -> None:
        super().__init__()
        self.scale = scale
        self.perturbation = mlp([1, hidden, 1], nn.Tanh())

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(x) + self.scale * self.perturbation(x.reshape(-1, 1)).reshape(x.shape)


def validate(cfg: DictConfig) -> None:
    """Reject a bad config before any work, naming the field, its value and what is allowed."""
    for field in (
        "hidden",
        "perturbation_hidden",
        "inner_steps",
        "batch_size",
        "outer_steps",
        "compare_seeds",
    ):
        check_positive(field, cfg[field], int)
    for field in ("inner_lr", "outer_lr", "perturbation_scale", "meta_grad_clip"):
        check_positive(field, cfg[field])
    unknown = sorted(set(cfg.compare) - {*FIXED, LEARNED})
    if unknown or not cfg.compare:
        raise ValueError(
            f"compare={list(cfg.compare)!r} is invalid: must be a non-empty list of {[*FIXED, LEARNED]}"
        )


def classifier(cfg: DictConfig, activation: nn.Module, n_in: int) -> nn.Sequential:
    return mlp([n_in, cfg.hidden, 10], activation)


def metalearn(cfg: DictConfig, data: dict[str, Tensor], report: Report) -> tuple[PerturbedELU, list[float]]:
    """Learn the perturbation `g`; each outer step trains a new classifier initialisation (seed + step)."""
    torch.manual_seed(cfg.seed)
    activation = PerturbedELU(cfg.perturbation_hidden, cfg.perturbation_scale)
    outer = torch.optim.Adam(activation.parameters(), lr=cfg.outer_lr)
    meta_losses = []
    for step in range(cfg.outer_steps):
        torch.manual_seed(cfg.seed + 1 + step)
        net = classifier(cfg, activation, data["x"].shape[1])
        inner, _ = split_params(net, META_PREFIX)
        meta = {f"{META_PREFIX}{name}": p for name, p in activation.named_parameters()}
        _, losses = unrolled_sgd(
            net, inner, meta, data["x"], data["y"], cfg.inner_lr, cfg.inner_steps, cfg.batch_size
        )
        outer.zero_grad()
        losses.mean().backward()
        nn.utils.clip_grad_norm_(activation.parameters(), cfg.meta_grad_clip)
        outer.step()
        meta_losses.append(losses.mean().item())
        report.log({"meta_loss": meta_losses[-1], "final_inner_loss": losses[-1].item()}, step)
        log.info(
            "outer step %d: meta-loss %.4f, final inner loss %.4f", step, meta_losses[-1], losses[-1].item()
        )
    return activation, meta_losses


def test_accuracy(cfg: DictConfig, data: dict[str, Tensor], activation: nn.Module, seed: int) -> float:
    """Test accuracy after the same inner run as in metalearning, but not differentiated."""
    torch.manual_seed(seed)
    net = classifier(cfg, activation, data["x"].shape[1])
    inner, fixed = split_params(net, META_PREFIX)
    trained, _ = unrolled_sgd(
        net, inner, fixed, data["x"], data["y"], cfg.inner_lr, cfg.inner_steps, cfg.batch_size, False
    )
    return accuracy(net, {**fixed, **trained}, data["x_test"], data["y_test"])


def local_extrema(values: np.ndarray) -> int:
    """How many times the curve changes direction (0 for a monotonic function)."""
    slope = np.sign(np.diff(values))
    slope = slope[slope != 0]
    return int(np.count_nonzero(np.diff(slope)))


def plot(curves: dict[str, np.ndarray], grid: np.ndarray, meta_losses: list[float], accs: dict) -> plt.Figure:
    fig, (ax_f, ax_loss, ax_acc) = plt.subplots(1, 3, figsize=(14, 3.9), layout="tight")
    colors = dict(zip([*FIXED, "initial", LEARNED], plt.cm.tab10.colors, strict=False))
    for name, values in curves.items():
        style = {"lw": 3} if name == LEARNED else {"lw": 1.5, "ls": "--" if name == "initial" else "-"}
        ax_f.plot(grid, values, color=colors[name], label=name, **style)
    ax_f.set(xlabel="pre-activation x", ylabel="activation f(x)", title="Activation functions")
    ax_f.legend(frameon=False, loc="upper left")
    ax_loss.plot(range(1, len(meta_losses) + 1), meta_losses, color=colors[LEARNED])
    ax_loss.set(xlabel="outer (meta) step", ylabel="meta-loss (mean inner train loss)", title="Metalearning")
    names = list(accs)
    means = [100 * np.mean(accs[n]) for n in names]
    stds = [100 * np.std(accs[n]) for n in names]
    bars = ax_acc.bar(names, means, yerr=stds, capsize=4, color=[colors[n] for n in names])
    ax_acc.bar_label(bars, labels=[f"{m:.1f}" for m in means], padding=3)
    ax_acc.set(ylabel="test accuracy (%)", title=f"Same inner run, {len(accs[names[0]])} held-out seeds")
    ax_acc.set_ylim(0, max(means) * 1.2)
    for ax in (ax_f, ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    return fig


def run(cfg: DictConfig) -> dict:
    """Metalearn, compare on held-out seeds, figure + JSON in the run directory."""
    validate(cfg)
    report = Report(NAME, cfg)
    data = dataset_tensors(cfg.data, cfg.paths.cache_dir)
    torch.manual_seed(cfg.seed)
    initial = PerturbedELU(cfg.perturbation_hidden, cfg.perturbation_scale)
    learned, meta_losses = metalearn(cfg, data, report)
    activations = {**{name: FIXED[name]() for name in FIXED}, "initial": initial, LEARNED: learned}

    held_out = [10_000 + cfg.seed + i for i in range(cfg.compare_seeds)]  # never used while metalearning
    accs = {name: [test_accuracy(cfg, data, activations[name], s) for s in held_out] for name in cfg.compare}
    grid = np.linspace(-5, 5, 201)
    with torch.no_grad():
        x = torch.as_tensor(grid, dtype=torch.float32)
        curves = {name: f(x).numpy() for name, f in activations.items()}
    report.figure(plot(curves, grid, meta_losses, accs), NAME)
    plt.close("all")

    mean_acc = {name: float(np.mean(a)) for name, a in accs.items()}
    best_fixed = max((mean_acc[n] for n in mean_acc if n in FIXED), default=None)
    return report.close(
        {
            "test_acc": accs,
            "mean_test_acc": mean_acc,
            "learned_minus_best_fixed": None
            if best_fixed is None
            else mean_acc.get(LEARNED, np.nan) - best_fixed,
            "learned_local_extrema": local_extrema(curves[LEARNED]),
            "meta_losses": meta_losses,
            "activation_curves": {"x": grid.tolist(), **{n: c.tolist() for n, c in curves.items()}},
        }
    )


@hydra.main(config_path=config_path(APPS_CONF), config_name="metalearn_activation", version_base="1.3")
def main(cfg: DictConfig) -> None:
    numbers = run(cfg)
    accs = ", ".join(f"{n} {100 * a:.1f}%" for n, a in numbers["mean_test_acc"].items())
    print(
        f"mean test accuracy: {accs}; learned shape has {numbers['learned_local_extrema']} local extrema; "
        f"CPU {numbers['cpu_time_s']:.0f} s, wall {numbers['wall_time_s']:.0f} s"
    )


if __name__ == "__main__":
    main()
