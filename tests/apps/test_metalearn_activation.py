"""`python -m mnist1d.apps.metalearn_activation`: the reference's setup in a small run; the activation's
memory-saving autograd equals plain autograd to second order; a bad config is refused."""

from __future__ import annotations

import json

import matplotlib.image
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mnist1d.apps import metalearn_activation
from mnist1d.apps.metalearn_activation import PerturbedELU, reference_shape
from tests.helpers import compose_app

QUIET = ["data.num_samples=1000", "threads=1", "wandb=null"]
SMALL = ["outer_steps=2", "inner_steps=10", "meta_loss_steps=5", "hidden=20", "perturbation_hidden=8"]


def test_small_activation_run_compares_all_activations(tmp_path, cache_dir):
    out = tmp_path / "act"
    overrides = [*QUIET, *SMALL, "compare_seeds=2"]
    numbers = metalearn_activation.run(compose_app("metalearn_activation", overrides, out, cache_dir))
    saved = json.loads((out / "metalearn_activation.json").read_text())
    assert set(saved["test_acc"]) == {"relu", "elu", "swish", "tanh", "softplus", "sigmoid", "learned"}
    assert all(len(a) == 2 and all(0 <= v <= 1 for v in a) for a in saved["test_acc"].values())
    assert saved["learned_minus_best_fixed"] == pytest.approx(numbers["learned_minus_best_fixed"])
    assert len(saved["meta_losses"]) == len(saved["inner_test_acc"]) == 2
    assert np.isfinite(saved["meta_losses"]).all()
    curves = saved["activation_curves"]
    assert not np.allclose(curves["learned"], curves["initial"])  # metalearning changed the activation
    np.testing.assert_allclose(curves["relu"], np.maximum(curves["x"], 0), atol=1e-6)
    assert saved["reference_local_extrema"] == 2  # the published shape: a maximum and a minimum
    assert matplotlib.image.imread(out / "metalearn_activation.png").std() > 0.01


def test_same_initialisation_and_noise_give_the_same_inner_run(tmp_path, cache_dir):
    """fixed_inner_init (the reference's behaviour): with a frozen activation (outer_lr tiny), every outer
    step repeats the same inner run."""
    overrides = [*QUIET, *SMALL, "outer_lr=1e-12", "compare=[relu]", "compare_seeds=1"]
    numbers = metalearn_activation.run(compose_app("metalearn_activation", overrides, tmp_path, cache_dir))
    assert numbers["meta_losses"][0] == pytest.approx(numbers["meta_losses"][1], abs=1e-6)
    assert numbers["inner_test_acc"][0] == numbers["inner_test_acc"][1]


def test_perturbed_elu_gradients_match_plain_autograd_to_second_order():
    torch.manual_seed(0)
    act = PerturbedELU(hidden=7, scale=0.2, noise=0.0).double()
    first, _, second = act.perturbation

    def plain(x: torch.Tensor) -> torch.Tensor:
        return F.elu(x) + 0.2 * second(torch.tanh(first(x.reshape(-1, 1)))).reshape(x.shape)

    x = (3 * torch.randn(4, 13, dtype=torch.float64)).requires_grad_()
    u, v, w = (torch.randn(4, 13, dtype=torch.float64) for _ in range(3))
    results = []
    for f in (plain, act):
        y = f(x)
        (slope,) = torch.autograd.grad((y * u).sum(), x, create_graph=True)  # what an inner step needs
        meta = (slope * v).sum() + (y * w).sum()  # depends on the weights through f and through f'
        results.append([y, slope, *torch.autograd.grad(meta, [x, *act.perturbation.parameters()])])
    for ours, reference in zip(results[1], results[0], strict=True):
        torch.testing.assert_close(ours, reference, rtol=1e-10, atol=1e-12)


def test_reference_shape_is_the_notebooks_piecewise_fit():
    x = np.array([-3.0, -2.0, -0.5, 0.0, 0.3, 2.0])
    np.testing.assert_allclose(reference_shape(x), [0.45, 0.6, -0.25, -0.75, -0.79, 1.0])


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("compare=[relu,gelu]", "compare"),
        ("inner_lr=-0.1", "inner_lr"),
        ("inner_optimizer=adam", "inner_optimizer"),
        ("meta_loss_steps=400", "meta_loss_steps"),
    ],
)
def test_bad_config_is_rejected_before_work(tmp_path, cache_dir, override, field):
    cfg = compose_app("metalearn_activation", [*QUIET, override], tmp_path / "bad", cache_dir)
    with pytest.raises(ValueError, match=field):
        metalearn_activation.run(cfg)
    assert not (tmp_path / "bad").exists()
