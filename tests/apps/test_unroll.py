"""Unrolled SGD: exact meta-gradients, and an undifferentiated run that keeps no graph."""

from __future__ import annotations

import pytest
import torch

from mnist1d.apps.unroll import mlp, split_params, unrolled_sgd


def test_meta_gradient_of_the_learning_rate_matches_finite_differences():
    torch.manual_seed(0)
    x, y = torch.randn(40, 8, dtype=torch.float64), torch.randint(0, 3, (40,))
    net = mlp([8, 6, 3], torch.nn.Tanh()).double()
    inner, meta = split_params(net)

    def meta_loss(lr: torch.Tensor) -> torch.Tensor:
        return unrolled_sgd(net, inner, meta, x, y, lr, steps=15, batch_size=10)[1].mean()

    lr = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    (analytic,) = torch.autograd.grad(meta_loss(lr), lr)
    eps = 1e-6
    numeric = (meta_loss(lr.detach() + eps) - meta_loss(lr.detach() - eps)) / (2 * eps)
    assert analytic.item() == pytest.approx(numeric.item(), rel=1e-5)
    assert analytic.item() != 0


def test_undifferentiated_run_keeps_no_graph_and_learns():
    torch.manual_seed(0)
    x, y = torch.randn(60, 8), torch.randint(0, 3, (60,))
    net = mlp([8, 16, 3], torch.nn.ReLU())
    inner, meta = split_params(net)
    trained, losses = unrolled_sgd(net, inner, meta, x, y, 0.5, steps=60, batch_size=20, differentiable=False)
    assert not losses.requires_grad and not any(p.requires_grad for p in trained.values())
    assert losses[-3:].mean() < losses[:3].mean()
