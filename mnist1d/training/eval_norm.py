"""Which statistics a net's BatchNorm layers normalise with when the net is scored (`model.eval_norm`).

`running`: the running averages gathered in training (PyTorch's eval mode; our default). `batch`: the mean
and variance of the batch being scored, as a net left in training mode computes them; the evaluation splits
are scored as one batch, so these are the statistics of the whole split, which is how Beebe et al.'s
training loop scored its ResNet (it never switched to eval mode). The running averages are neither used nor
updated, and dropout stays off. Nets without BatchNorm score the same either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm  # the base of every BatchNorm variant

from mnist1d.rules import Rule, one_of, refuse

EVAL_NORMS = ("running", "batch")


EVAL_NORM_RULE = Rule("eval_norm", one_of(EVAL_NORMS), lambda v: v in EVAL_NORMS)


def check_eval_norm(value: object) -> str:
    """`value` if it is one of EVAL_NORMS, else a ValueError naming the field."""
    refuse([EVAL_NORM_RULE], {"eval_norm": value}, prefix="model.")
    return str(value)


def split_net_config(model: dict) -> tuple[dict, str]:
    """A model config (conf/train/model/*.yaml plus `eval_norm`) as the net's constructor config and the
    evaluation choice, which is no argument of the net."""
    net = dict(model)
    return net, check_eval_norm(net.pop("eval_norm", "running"))


def net_config(model: DictConfig) -> dict:
    """The net's constructor config of a composed `model` config (resolved, without `eval_norm`)."""
    return split_net_config(OmegaConf.to_container(model, resolve=True))[0]


@contextmanager
def norm_statistics(net: nn.Module, eval_norm: str) -> Iterator[None]:
    """Within this context, the BatchNorm layers of `net` that are in eval mode normalise as `eval_norm`
    says; training-mode layers (a training step) are left alone."""
    layers = [m for m in net.modules() if isinstance(m, _BatchNorm) and not m.training]
    if eval_norm == "running" or not layers:
        yield
        return
    tracking = [layer.track_running_stats for layer in layers]
    for layer in layers:
        # training mode without tracking: batch statistics, running averages untouched
        layer.training, layer.track_running_stats = True, False
    try:
        yield
    finally:
        for layer, tracked in zip(layers, tracking, strict=True):
            layer.training, layer.track_running_stats = False, tracked
