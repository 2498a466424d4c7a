"""Unrolled, differentiable training (SGD or RMSProp) of a small network, called with `torch.func`.

Metalearning differentiates a whole training run with respect to its hyperparameters (the learning rate,
the activation function). The inner run is therefore a pure function of them: the trained parameters are a
dict of tensors, each step is `params - lr * grad(loss)(params)` and nothing is updated in place, so
autograd can backpropagate from the run's losses to `lr` and to any meta-parameter of the network.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

Params = dict[str, Tensor]


def mlp(sizes: list[int], activation: nn.Module) -> nn.Sequential:
    """Linear layers of `sizes` with `activation` between them (a 40-50-10 tanh MLP is `[40, 50, 10]`)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        if i:
            layers.append(activation)
        layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


def split_params(net: nn.Module, meta_prefix: str | None = None) -> tuple[Params, Params]:
    """(inner, meta) parameters: those under `meta_prefix` (e.g. an activation module) are meta-parameters."""
    inner, meta = {}, {}
    for name, param in net.named_parameters():
        is_meta = meta_prefix is not None and name.startswith(meta_prefix)
        (meta if is_meta else inner)[name] = param.detach().clone().requires_grad_(is_meta)
    return inner, meta


def unrolled_sgd(
    net: nn.Module,
    inner: Params,
    meta: Params,
    x: Tensor,
    y: Tensor,
    lr: Tensor | float,
    steps: int,
    batch_size: int,
    differentiable: bool = True,
) -> tuple[Params, Tensor]:
    """Train `inner` for `steps` SGD steps on consecutive minibatches of (x, y), wrapping around the data.

    Returns the trained parameters and the training loss of every step. With `differentiable`, both stay
    connected to `lr` and `meta` (the metalearning objective); without, no graph is kept across steps, so
    memory stays constant (evaluating a hyperparameter rather than learning it).
    """

    def sgd(params: Params, grads: Params) -> Params:
        return {name: p - lr * grads[name] for name, p in params.items()}

    return _unrolled(net, inner, meta, x, y, steps, batch_size, differentiable, sgd)


def unrolled_rmsprop(
    net: nn.Module,
    inner: Params,
    meta: Params,
    x: Tensor,
    y: Tensor,
    lr: float,
    decay: float,
    steps: int,
    batch_size: int,
    differentiable: bool = True,
    eps: float = 1e-8,
) -> tuple[Params, Tensor]:
    """As `unrolled_sgd`, with RMSProp steps: a running average of squared gradients (started at one, as in
    the reference's metalearned-activation notebook) `a = decay * a + (1 - decay) * g**2` scales each step,
    `p - lr * g / (sqrt(a) + eps)`."""
    averages = {name: torch.ones_like(p) for name, p in inner.items()}

    def rmsprop(params: Params, grads: Params) -> Params:
        for name, g in grads.items():
            averages[name] = decay * averages[name] + (1 - decay) * g**2
        return {name: p - lr * grads[name] / (averages[name].sqrt() + eps) for name, p in params.items()}

    return _unrolled(net, inner, meta, x, y, steps, batch_size, differentiable, rmsprop)


def _unrolled(
    net: nn.Module,
    inner: Params,
    meta: Params,
    x: Tensor,
    y: Tensor,
    steps: int,
    batch_size: int,
    differentiable: bool,
    update: Callable[[Params, Params], Params],
) -> tuple[Params, Tensor]:
    """`steps` updates of `inner` on consecutive minibatches, each `update(params, grads)`.

    Each step's gradient comes from `torch.autograd.grad`, with `create_graph` when differentiable (the
    update then stays on the graph); otherwise every step starts from detached parameters, so no graph
    outlives its step. (`torch.func.grad` gives the same numbers, but measured several times slower and
    with more memory per unrolled step here.)
    """
    names = list(inner)
    losses = []
    for step in range(steps):
        start = step * batch_size % len(x)
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        with torch.enable_grad():
            params = {
                n: p if differentiable and p.requires_grad else p.detach().requires_grad_()
                for n, p in inner.items()
            }
            value = F.cross_entropy(functional_call(net, {**meta, **params}, (xb,)), yb)
            grads = torch.autograd.grad(value, [params[n] for n in names], create_graph=differentiable)
        with torch.set_grad_enabled(differentiable):
            inner = update(params if differentiable else {n: p.detach() for n, p in params.items()},
                           dict(zip(names, grads, strict=True)))  # fmt: skip
        losses.append(value if differentiable else value.detach())
    return inner, torch.stack(losses)


def accuracy(net: nn.Module, params: Params, x: Tensor, y: Tensor) -> float:
    """Fraction of (x, y) that `net` with `params` classifies correctly."""
    with torch.no_grad():
        return (functional_call(net, params, (x,)).argmax(-1) == y).float().mean().item()
