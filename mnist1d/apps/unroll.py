"""Unrolled, differentiable SGD training of a small network, written with `torch.func`.

Metalearning differentiates a whole training run with respect to its hyperparameters (the learning rate,
the activation function). The inner run is therefore a pure function of them: the trained parameters are a
dict of tensors, each step is `params - lr * grad(loss)(params)` and nothing is updated in place, so
autograd can backpropagate from the run's losses to `lr` and to any meta-parameter of the network.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, grad_and_value

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

    def loss(params: Params, xb: Tensor, yb: Tensor) -> Tensor:
        return F.cross_entropy(functional_call(net, {**meta, **params}, (xb,)), yb)

    step_grad = grad_and_value(loss)  # a function transform: it still differentiates under no_grad
    losses = []
    with torch.set_grad_enabled(differentiable):
        for step in range(steps):
            start = step * batch_size % len(x)
            grads, value = step_grad(inner, x[start : start + batch_size], y[start : start + batch_size])
            inner = {name: p - lr * grads[name] for name, p in inner.items()}
            losses.append(value)
    return inner, torch.stack(losses)


def accuracy(net: nn.Module, params: Params, x: Tensor, y: Tensor) -> float:
    """Fraction of (x, y) that `net` with `params` classifies correctly."""
    with torch.no_grad():
        return (functional_call(net, params, (x,)).argmax(-1) == y).float().mean().item()
