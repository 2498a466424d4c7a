"""Metalearn the SGD learning rate of a small MLP by differentiating through its whole training run.

`python -m mnist1d.apps.metalearn_lr` (config `conf/apps/metalearn_lr.yaml`). As in the
MNIST-1D paper: a 40-50-10 tanh MLP is trained for 200 SGD steps on consecutive minibatches of 50, always
from the same initialisation; the meta-loss is the mean training loss of those steps and its gradient
with respect to the learning rate drives an outer SGD. Started from a small and a large value, the learning
rate should converge to the same optimum, the published one (published_results.json) from both starts.
"""

from __future__ import annotations

import logging

import hydra
import matplotlib
import torch
from omegaconf import DictConfig

from mnist1d.apps.common import Report, dataset_tensors, positive
from mnist1d.apps.unroll import mlp, split_params, unrolled_sgd
from mnist1d.config.compose import APPS_CONF, config_path
from mnist1d.errors import reported_as_message
from mnist1d.reports.common import published
from mnist1d.rules import Rule, refuse

matplotlib.use("Agg")
import matplotlib.pyplot as plt

log = logging.getLogger(__name__)
NAME = "metalearn_lr"


# What the config must be, checked before any work (see mnist1d/rules.py).
RULES = (
    positive("inner_steps", int),
    positive("batch_size", int),
    positive("outer_steps", int),
    positive("outer_lr"),
    Rule(
        "initial_lrs", "a non-empty list of positive numbers", lambda v: len(v) > 0 and all(x > 0 for x in v)
    ),
    Rule("sizes", "a list of input, hidden..., output widths", lambda v: len(v) >= 2),
)


def metalearn(cfg: DictConfig, data: dict[str, torch.Tensor], initial_lr: float, report: Report) -> dict:
    """One outer optimisation of the learning rate from `initial_lr`; returns its trajectory."""
    torch.manual_seed(cfg.seed)  # the same inner initialisation for every outer step and every start
    net = mlp(list(cfg.sizes), torch.nn.Tanh())
    inner, meta = split_params(net)
    lr = torch.tensor(float(initial_lr), requires_grad=True)
    outer = torch.optim.SGD([lr], lr=cfg.outer_lr)
    lrs, meta_losses = [float(initial_lr)], []
    for step in range(cfg.outer_steps):
        _, losses = unrolled_sgd(net, inner, meta, data["x"], data["y"], lr, cfg.inner_steps, cfg.batch_size)
        meta_loss = losses.mean()
        outer.zero_grad()
        meta_loss.backward()
        outer.step()
        lrs.append(lr.item())
        meta_losses.append(meta_loss.item())
        report.log({f"lr/from_{initial_lr}": lrs[-1], f"meta_loss/from_{initial_lr}": meta_losses[-1]}, step)
        log.info(
            "start %g, outer step %d: lr %.4f, meta-loss %.4f", initial_lr, step, lrs[-1], meta_losses[-1]
        )
    return {"initial_lr": float(initial_lr), "final_lr": lrs[-1], "lrs": lrs, "meta_losses": meta_losses}


def plot(runs: list[dict], published: float) -> plt.Figure:
    fig, (ax_lr, ax_loss) = plt.subplots(1, 2, figsize=(10, 3.8), layout="tight")
    for run, color in zip(runs, plt.cm.tab10.colors, strict=False):
        label = f"from {run['initial_lr']:g} → {run['final_lr']:.3f}"
        ax_lr.plot(run["lrs"], color=color, lw=2, label=label)
        ax_loss.plot(range(1, len(run["lrs"])), run["meta_losses"], color=color, lw=2, label=label)
    ax_lr.axhline(published, color="gray", ls="--", lw=1, label=f"published ≈ {published}")
    ax_lr.set(xlabel="outer (meta) step", ylabel="inner SGD learning rate", title="Metalearned learning rate")
    ax_loss.set(xlabel="outer (meta) step", ylabel="meta-loss (mean inner train loss)", title="Meta-loss")
    for ax in (ax_lr, ax_loss):
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
    return fig


def run(cfg: DictConfig) -> dict:
    """The experiment: every start of `cfg.initial_lrs`, figure + JSON in the run directory."""
    refuse(RULES, cfg)
    report = Report(NAME, cfg)
    data = dataset_tensors(cfg.data, cfg.paths.cache_dir)
    runs = [metalearn(cfg, data, initial_lr, report) for initial_lr in cfg.initial_lrs]
    published_lr = published("metalearned_learning_rate")["value"]
    report.figure(plot(runs, published_lr), NAME)
    plt.close("all")
    final = [r["final_lr"] for r in runs]
    return report.close(
        {
            "final_lrs": dict(zip(map(str, cfg.initial_lrs), final, strict=True)),
            "final_lr_spread": max(final) - min(final),
            "published_lr": published_lr,
            "runs": runs,
        }
    )


@hydra.main(config_path=config_path(APPS_CONF), config_name="metalearn_lr", version_base="1.3")
def main(cfg: DictConfig) -> None:
    with reported_as_message(ValueError):  # the apps refuse bad settings with a ValueError
        numbers = run(cfg)
    print(
        f"final learning rates: {numbers['final_lrs']} (published ≈ {numbers['published_lr']}); "
        f"CPU {numbers['cpu_time_s']:.0f} s, wall {numbers['wall_time_s']:.0f} s"
    )


if __name__ == "__main__":
    main()
