"""Metalearn an MLP's activation function through unrolled training, then compare it with fixed ones.

`python -m mnist1d.apps.metalearn_activation` (config `conf/apps/metalearn_activation.yaml`), in the setup of
the reference notebook (metalearn-activation-function): the activation is `ELU(x) + 0.2 * g(x)`, `g` a
1-100-1 tanh MLP of the scalar input; the classifier is a 40-128-10 MLP; both add uniform noise U(-0.1, 0.1)
to their hidden layer on every forward pass (one draw per call, shared by the batch: the reference's
gradient smoothing). Each outer step trains the classifier for 301 RMSProp steps on consecutive minibatches
of a 10000-sample MNIST-1D (8000 train), unrolled, and moves `g` along the gradient of the mean of the last
200 training losses (plain SGD, every gradient element clamped). As in the reference, every outer step starts
from the same initialisation and noise (`fixed_inner_init`), so its inner test accuracy traces how the
activation improves that one run (published: 48.6 % at the first outer step, 68.4 % at the last).
Afterwards the learned activation and fixed ones (ReLU, ELU, Swish, ...) train the same classifier with the
same inner run from held-out initialisations and noise, and their test accuracies are compared (published:
the learned one beats ReLU, ELU and Swish by more than 5 points, with a shape of two local extrema).
"""

from __future__ import annotations

import itertools
import logging

import hydra
import matplotlib
import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor, nn

from mnist1d.apps.common import Report, dataset_tensors, positive
from mnist1d.apps.unroll import accuracy, split_params, unrolled_rmsprop, unrolled_sgd
from mnist1d.config.compose import APPS_CONF, config_path
from mnist1d.errors import reported_as_message
from mnist1d.reports.common import published
from mnist1d.rules import Rule, Together, is_number, refuse

matplotlib.use("Agg")
import matplotlib.pyplot as plt

log = logging.getLogger(__name__)
NAME = "metalearn_activation"
LEARNED = "learned"
FIXED = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "swish": nn.SiLU,
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,
    "sigmoid": nn.Sigmoid,
}
META_PREFIX = "1."  # the activation sits between the first Linear layer and the noise of the classifier
INNER_OPTIMIZERS = ("rmsprop", "sgd")


class HiddenNoise(nn.Module):
    """Adds `scale * U(-1, 1)` noise of shape (1, width) to its input on every call: one draw shared by the
    whole batch, as the reference adds to its hidden layers. `enabled = False` turns it off (for drawing
    the activation's shape)."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale
        self.enabled = True

    def forward(self, h: Tensor) -> Tensor:
        if not self.enabled or not self.scale:
            return h
        return h + self.scale * (2 * torch.rand(1, h.shape[-1], device=h.device) - 1)


def noisy_mlp(sizes: list[int], activation: nn.Module, noise: float) -> nn.Sequential:
    """Linear layers of `sizes` with `activation` and then `HiddenNoise` between them."""
    layers: list[nn.Module] = [nn.Linear(sizes[0], sizes[1])]
    for n_in, n_out in itertools.pairwise(sizes[1:]):
        layers += [activation, HiddenNoise(noise), nn.Linear(n_in, n_out)]
    return nn.Sequential(*layers)


class PerturbedELU(nn.Module):
    """ELU(x) + scale * g(x), g(x) = w2 . (tanh(w1 x + b1) + n) + b2 a 1-hidden-1 tanh MLP applied to every
    scalar, n the hidden noise (one draw per call): ELU plus a learned perturbation.

    Computed by `_PerturbedELU`, which keeps only the inputs between a step and its backward pass: unrolling
    hundreds of training steps (and differentiating their gradients) would otherwise keep a (pre-activations
    x hidden) tensor per step, 13 GB for the reference's setup."""

    def __init__(self, hidden: int, scale: float, noise: float) -> None:
        super().__init__()
        self.scale = scale
        self.perturbation = nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        self.noise = HiddenNoise(noise)

    def forward(self, x: Tensor) -> Tensor:
        first, _, second = self.perturbation
        noise = self.noise(torch.zeros(1, first.out_features, dtype=x.dtype, device=x.device))[0]
        weights = (first.weight[:, 0], first.bias, second.weight[0], second.bias[0], noise)
        return _PerturbedELU.apply(x.reshape(-1), *weights, self.scale).reshape(x.shape)


def _hidden(x: Tensor, w1: Tensor, b1: Tensor) -> Tensor:
    return torch.tanh(x[:, None] * w1 + b1)


class _PerturbedELU(torch.autograd.Function):
    """f(x) = elu(x) + s * (w2 . (tanh(w1 x + b1) + n) + b2) for a vector x, saving only its inputs.

    The gradient with respect to x is `_PerturbedELUSlope` (differentiable again: the inner training step's
    gradient is on the meta-gradient's graph); the gradients with respect to the weights are computed
    without a graph, since the meta-gradient never differentiates them again."""

    @staticmethod
    def forward(ctx, x, w1, b1, w2, b2, noise, scale):
        ctx.save_for_backward(x, w1, b1, w2, noise)
        ctx.scale = scale
        return F.elu(x) + scale * ((_hidden(x, w1, b1) + noise) @ w2 + b2)

    @staticmethod
    def backward(ctx, grad):
        x, w1, b1, w2, noise = ctx.saved_tensors
        s = ctx.scale
        dx = grad * _PerturbedELUSlope.apply(x, w1, b1, w2, s)
        with torch.no_grad():
            t = _hidden(x, w1, b1)
            dz = s * grad[:, None] * w2 * (1 - t * t)
            dw1, db1 = (dz * x[:, None]).sum(0), dz.sum(0)
            dw2, db2 = s * (grad[:, None] * (t + noise)).sum(0), s * grad.sum()
        return dx, dw1, db1, dw2, db2, None, None


class _PerturbedELUSlope(torch.autograd.Function):
    """f'(x) = elu'(x) + s * sum_k w2_k w1_k (1 - tanh(w1_k x + b1_k)^2), saving only its inputs; its own
    gradients (the meta-gradient's last order) are computed without a graph."""

    @staticmethod
    def forward(ctx, x, w1, b1, w2, scale):
        ctx.save_for_backward(x, w1, b1, w2)
        ctx.scale = scale
        t = _hidden(x, w1, b1)
        elu_slope = torch.where(x > 0, 1.0, torch.exp(x.clamp(max=0)))
        return elu_slope + scale * ((1 - t * t) @ (w1 * w2))

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        x, w1, b1, w2 = ctx.saved_tensors
        s = ctx.scale
        t = _hidden(x, w1, b1)
        d = 1 - t * t
        curvature = -2 * t * d  # d/dz of 1 - tanh(z)^2
        elu_curvature = torch.where(x > 0, 0.0, torch.exp(x.clamp(max=0)))
        dx = grad * (elu_curvature + s * (curvature @ (w1 * w1 * w2)))
        g = s * grad[:, None]
        dw1 = (g * w2 * (d + w1 * curvature * x[:, None])).sum(0)
        db1 = (g * w2 * w1 * curvature).sum(0)
        dw2 = (g * w1 * d).sum(0)
        return dx, dw1, db1, dw2, None


# What the config must be, checked before any work (see mnist1d/rules.py).
RULES = (
    positive("hidden", int),
    positive("perturbation_hidden", int),
    positive("inner_steps", int),
    positive("batch_size", int),
    positive("outer_steps", int),
    positive("compare_seeds", int),
    positive("inner_lr"),
    positive("outer_lr"),
    positive("perturbation_scale"),
    positive("meta_grad_clamp"),
    Rule("hidden_noise", "a number >= 0", lambda v: is_number(v) and v >= 0),
    Rule("outer_momentum", "a number >= 0", lambda v: is_number(v) and v >= 0),
    Rule("rmsprop_decay", "in [0, 1)", lambda v: 0 <= v < 1),
    Rule("inner_optimizer", f"one of {INNER_OPTIMIZERS}", lambda v: v in INNER_OPTIMIZERS),
    Together(
        ("meta_loss_steps", "inner_steps"),
        "is invalid: must be 1 <= meta_loss_steps <= inner_steps",
        lambda losses, steps: 1 <= losses <= steps,
    ),
    Rule(
        "compare",
        f"a non-empty list of {[*FIXED, LEARNED]}",
        lambda v: len(v) > 0 and set(v) <= {*FIXED, LEARNED},
    ),
)


def classifier(cfg: DictConfig, activation: nn.Module, n_in: int) -> nn.Sequential:
    return noisy_mlp([n_in, cfg.hidden, 10], activation, cfg.hidden_noise)


def inner_run(
    cfg: DictConfig, net: nn.Module, data: dict[str, Tensor], differentiable: bool
) -> tuple[dict[str, Tensor], dict[str, Tensor], Tensor]:
    """The inner training run of `net` (its activation's parameters held as meta-parameters): returns the
    trained inner parameters, the meta-parameters and every step's training loss."""
    inner, _ = split_params(net, META_PREFIX)  # copies: the inner run's own starting point
    activation = net[int(META_PREFIX.rstrip("."))]
    meta = {
        f"{META_PREFIX}{name}": p if differentiable else p.detach()
        for name, p in activation.named_parameters()
    }
    args = (net, inner, meta, data["x"], data["y"])
    steps = (cfg.inner_steps, cfg.batch_size, differentiable)
    if cfg.inner_optimizer == "rmsprop":
        trained, losses = unrolled_rmsprop(*args, cfg.inner_lr, cfg.rmsprop_decay, *steps)
    else:
        trained, losses = unrolled_sgd(*args, cfg.inner_lr, *steps)
    return trained, meta, losses


def seeded_classifier(
    cfg: DictConfig, activation: nn.Module, n_in: int, init_seed: int, noise_seed: int
) -> nn.Module:
    """The classifier initialised from `init_seed`, with the noise stream of `noise_seed` from here on."""
    torch.manual_seed(init_seed)
    net = classifier(cfg, activation, n_in)
    torch.manual_seed(noise_seed)
    return net


def metalearn(
    cfg: DictConfig, data: dict[str, Tensor], report: Report
) -> tuple[PerturbedELU, dict[str, list]]:
    """Learn the perturbation `g` by outer SGD (momentum `outer_momentum`, clamped gradients) on the mean of
    the last `meta_loss_steps` inner losses; returns `g` and the trajectory (meta-loss, test accuracy)."""
    torch.manual_seed(cfg.seed)
    activation = PerturbedELU(cfg.perturbation_hidden, cfg.perturbation_scale, cfg.hidden_noise)
    params = list(activation.parameters())
    outer = torch.optim.SGD(params, lr=cfg.outer_lr, momentum=cfg.outer_momentum)
    trajectory: dict[str, list] = {"meta_loss": [], "inner_test_acc": [], "final_inner_loss": []}
    n_in = data["x"].shape[1]
    for step in range(cfg.outer_steps):
        init_seed = cfg.seed + 1 + (0 if cfg.fixed_inner_init else step)
        net = seeded_classifier(cfg, activation, n_in, init_seed, noise_seed=cfg.seed)
        trained, meta, losses = inner_run(cfg, net, data, differentiable=True)
        meta_loss = losses[-cfg.meta_loss_steps :].mean()
        outer.zero_grad()
        meta_loss.backward()
        for p in params:
            p.grad.clamp_(-cfg.meta_grad_clamp, cfg.meta_grad_clamp)
        outer.step()
        test_acc = accuracy(net, {**meta, **trained}, data["x_test"], data["y_test"])
        for key, value in (("meta_loss", meta_loss.item()), ("inner_test_acc", test_acc),
                           ("final_inner_loss", losses[-1].item())):  # fmt: skip
            trajectory[key].append(value)
        report.log({key: values[-1] for key, values in trajectory.items()}, step)
        log.info("outer step %d: meta-loss %.4f, inner test accuracy %.3f", step, meta_loss.item(), test_acc)
    return activation, trajectory


def test_accuracy(cfg: DictConfig, data: dict[str, Tensor], activation: nn.Module, seed: int) -> float:
    """Test accuracy after the same inner run as in metalearning, from initialisation and noise `seed`, not
    differentiated."""
    net = seeded_classifier(cfg, activation, data["x"].shape[1], seed, seed)
    trained, meta, _ = inner_run(cfg, net, data, differentiable=False)
    return accuracy(net, {**meta, **trained}, data["x_test"], data["y_test"])


def local_extrema(values: np.ndarray) -> int:
    """How many times the curve changes direction (0 for a monotonic function)."""
    slope = np.sign(np.diff(values))
    slope = slope[slope != 0]
    return int(np.count_nonzero(np.diff(slope)))


def reference_shape(x: np.ndarray) -> np.ndarray:
    """The reference notebook's piecewise-linear fit of its learned activation (published_results.json)."""
    fit = published("metalearned_activation")["piecewise_linear_fit"]
    piece = np.searchsorted(fit["breakpoints"], x)
    return np.asarray(fit["slope"])[piece] * x + np.asarray(fit["intercept"])[piece]


def curves_of(activations: dict[str, nn.Module], grid: np.ndarray) -> dict[str, np.ndarray]:
    """Each activation on `grid`, noise off."""
    noise = [m for f in activations.values() for m in f.modules() if isinstance(m, HiddenNoise)]
    for module in noise:
        module.enabled = False
    with torch.no_grad():
        x = torch.as_tensor(grid, dtype=torch.float32)
        curves = {name: f(x).numpy() for name, f in activations.items()}
    for module in noise:
        module.enabled = True
    return curves


def plot(
    curves: dict[str, np.ndarray], grid: np.ndarray, trajectory: dict[str, list], accs: dict
) -> plt.Figure:
    fig, (ax_loss, ax_traj, ax_f, ax_acc) = plt.subplots(1, 4, figsize=(19, 4.2), layout="constrained")
    colors = dict(zip(FIXED, plt.cm.tab10.colors, strict=False))
    colors |= {"initial": "tab:pink", LEARNED: "black", "reference": "tab:olive"}
    steps = range(1, len(trajectory["meta_loss"]) + 1)
    ax_loss.plot(steps, trajectory["meta_loss"], color=colors[LEARNED])
    ax_loss.set(
        xlabel="outer (meta) step", ylabel="meta-loss", title="Outer objective (mean of last inner losses)"
    )
    reference = published("metalearned_activation")
    ax_traj.plot(steps, [100 * a for a in trajectory["inner_test_acc"]], color=colors[LEARNED], label="ours")
    for key, marker in (("inner_test_acc_first_outer_step", "o"), ("inner_test_acc_last_outer_step", "s")):
        step = 1 if "first" in key else len(steps)
        ax_traj.plot(step, reference[key], marker, color="black", label=f"published ({reference[key]:g} %)")
    ax_traj.set(xlabel="outer (meta) step", ylabel="test accuracy (%)", title="Inner run's test accuracy")
    ax_traj.legend(frameon=False, fontsize=8)
    for name, values in curves.items():
        style = (
            {"lw": 3}
            if name == LEARNED
            else {"lw": 1.5, "ls": "--" if name in ("initial", "reference") else "-"}
        )
        label = "reference (notebook's fit)" if name == "reference" else name
        ax_f.plot(grid, values, color=colors[name], label=label, **style)
    ax_f.axhline(0, color="0.6", lw=0.8)
    ax_f.axvline(0, color="0.6", lw=0.8)
    ax_f.set(xlabel="pre-activation x", ylabel="activation f(x)", title="Activation functions", xlim=(-5, 5),
             ylim=(-1.5, 4))  # fmt: skip
    ax_f.legend(frameon=False, loc="upper left", fontsize=8)
    names = list(accs)
    means = [100 * np.mean(accs[n]) for n in names]
    stds = [100 * np.std(accs[n], ddof=1) if len(accs[n]) > 1 else 0.0 for n in names]
    bars = ax_acc.bar(names, means, yerr=stds if len(accs[names[0]]) > 1 else None, capsize=4,
                      color=[colors[n] for n in names])  # fmt: skip
    ax_acc.bar_label(bars, labels=[f"{m:.1f}" for m in means], label_type="center", color="white", fontsize=8)
    published_acc = reference["fixed_activation_test_acc_read_off_figure"] | {
        LEARNED: reference["inner_test_acc_last_outer_step"]
    }
    marked = [(i, published_acc[n]) for i, n in enumerate(names) if n in published_acc]
    if marked:
        ax_acc.scatter(*zip(*marked, strict=True), marker="_", s=300, linewidths=2.5, color="black", zorder=3,
                       label="published (one run)")  # fmt: skip
        ax_acc.legend(frameon=False, fontsize=8, loc="upper left")
    top = max([m + s for m, s in zip(means, stds, strict=True)] + [v for _, v in marked])
    ax_acc.set(ylabel="test accuracy (%)", title=f"Same inner run, {len(accs[names[0]])} held-out seeds",
               ylim=(0, 1.15 * top))  # fmt: skip
    ax_acc.tick_params(axis="x", rotation=30)
    for ax in (ax_loss, ax_traj, ax_f, ax_acc):
        ax.grid(alpha=0.3)
    return fig


def run(cfg: DictConfig) -> dict:
    """Metalearn, compare on held-out seeds, figure + JSON in the run directory."""
    refuse(RULES, cfg)
    report = Report(NAME, cfg)
    data = dataset_tensors(cfg.data, cfg.paths.cache_dir)
    torch.manual_seed(cfg.seed)
    initial = PerturbedELU(cfg.perturbation_hidden, cfg.perturbation_scale, cfg.hidden_noise)
    learned, trajectory = metalearn(cfg, data, report)
    activations = {**{name: FIXED[name]() for name in FIXED}, "initial": initial, LEARNED: learned}

    held_out = [10_000 + cfg.seed + i for i in range(cfg.compare_seeds)]  # never used while metalearning
    accs = {name: [test_accuracy(cfg, data, activations[name], s) for s in held_out] for name in cfg.compare}
    grid = np.linspace(-5, 5, 201)
    curves = curves_of(activations, grid)
    curves["reference"] = reference_shape(grid)
    report.figure(plot(curves, grid, trajectory, accs), NAME)
    plt.close("all")

    mean_acc = {name: float(np.mean(a)) for name, a in accs.items()}
    fixed = {n: mean_acc[n] for n in mean_acc if n in ("relu", "elu", "swish")}
    return report.close(
        {
            "test_acc": accs,
            "mean_test_acc": mean_acc,
            "learned_minus_best_fixed": None
            if not fixed or LEARNED not in mean_acc
            else mean_acc[LEARNED] - max(fixed.values()),
            "learned_local_extrema": local_extrema(curves[LEARNED]),
            "reference_local_extrema": local_extrema(curves["reference"]),
            "meta_losses": trajectory["meta_loss"],
            "inner_test_acc": trajectory["inner_test_acc"],
            "activation_curves": {"x": grid.tolist(), **{n: c.tolist() for n, c in curves.items()}},
        }
    )


@hydra.main(config_path=config_path(APPS_CONF), config_name="metalearn_activation", version_base="1.3")
def main(cfg: DictConfig) -> None:
    with reported_as_message(ValueError):  # the apps refuse bad settings with a ValueError
        numbers = run(cfg)
    accs = ", ".join(f"{n} {100 * a:.1f}%" for n, a in numbers["mean_test_acc"].items())
    print(
        f"mean test accuracy: {accs}; learned shape has {numbers['learned_local_extrema']} local extrema; "
        f"CPU {numbers['cpu_time_s']:.0f} s, wall {numbers['wall_time_s']:.0f} s"
    )


if __name__ == "__main__":
    main()
