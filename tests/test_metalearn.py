"""The metalearning experiments: exact meta-gradients, and small runs that write their figure and JSON."""

from __future__ import annotations

import json

import matplotlib.image
import numpy as np
import pytest
import torch
from test_science_figures import compose_app

from mnist1d.experiments import metalearn_activation, metalearn_lr
from mnist1d.experiments.unroll import mlp, split_params, unrolled_sgd

QUIET = ["data.num_samples=1000", "threads=1"]


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


def test_small_lr_run_moves_both_starts_toward_each_other_and_logs(tmp_path, cache_dir):
    out = tmp_path / "lr"
    overrides = [*QUIET, "outer_steps=3", "inner_steps=20", "wandb.mode=offline"]
    numbers = metalearn_lr.run(compose_app("experiments/metalearn_lr", overrides, out, cache_dir))
    saved = json.loads((out / "metalearn_lr.json").read_text())
    assert saved["final_lrs"] == numbers["final_lrs"]
    low, high = (saved["final_lrs"][k] for k in ("0.15", "1.5"))
    assert 0.15 < low < high < 1.5  # the small start grows, the large one shrinks
    for run in saved["runs"]:
        assert len(run["lrs"]) == 4 and len(run["meta_losses"]) == 3
        assert np.isfinite(run["lrs"]).all() and np.isfinite(run["meta_losses"]).all()
    assert matplotlib.image.imread(out / "metalearn_lr.png").std() > 0.01
    assert (out / "metalearn_lr.pdf").read_bytes().startswith(b"%PDF")
    assert list((out / "wandb").glob("offline-run-*/run-*.wandb"))  # a real W&B offline run


def test_small_activation_run_compares_all_activations(tmp_path, cache_dir):
    out = tmp_path / "act"
    overrides = [*QUIET, "outer_steps=2", "inner_steps=10", "hidden=20", "compare_seeds=2", "wandb=null"]
    numbers = metalearn_activation.run(
        compose_app("experiments/metalearn_activation", overrides, out, cache_dir)
    )
    saved = json.loads((out / "metalearn_activation.json").read_text())
    assert set(saved["test_acc"]) == {"relu", "elu", "swish", "learned"}
    assert all(len(a) == 2 and all(0 <= v <= 1 for v in a) for a in saved["test_acc"].values())
    assert saved["learned_minus_best_fixed"] == pytest.approx(numbers["learned_minus_best_fixed"])
    assert len(saved["meta_losses"]) == 2 and np.isfinite(saved["meta_losses"]).all()
    curves = saved["activation_curves"]
    assert not np.allclose(curves["learned"], curves["initial"])  # metalearning changed the activation
    np.testing.assert_allclose(curves["relu"], np.maximum(curves["x"], 0), atol=1e-6)
    assert matplotlib.image.imread(out / "metalearn_activation.png").std() > 0.01


@pytest.mark.parametrize(
    ("app", "override", "field"),
    [
        ("experiments/metalearn_lr", "initial_lrs=[0.1,-1]", "initial_lrs"),
        ("experiments/metalearn_lr", "inner_steps=0", "inner_steps"),
        ("experiments/metalearn_activation", "compare=[relu,tanh]", "compare"),
        ("experiments/metalearn_activation", "inner_lr=-0.1", "inner_lr"),
    ],
)
def test_bad_config_is_rejected_before_work(tmp_path, cache_dir, app, override, field):
    cfg = compose_app(app, [*QUIET, "wandb=null", override], tmp_path / "bad", cache_dir)
    module = metalearn_lr if app.endswith("lr") else metalearn_activation
    with pytest.raises(ValueError, match=field):
        module.run(cfg)
    assert not (tmp_path / "bad").exists()
