"""`python -m mnist1d.apps.metalearn_activation`: a small run compares every activation; a bad config is
refused."""

from __future__ import annotations

import json

import matplotlib.image
import numpy as np
import pytest

from mnist1d.apps import metalearn_activation
from tests.helpers import compose_app

QUIET = ["data.num_samples=1000", "threads=1"]


def test_small_activation_run_compares_all_activations(tmp_path, cache_dir):
    out = tmp_path / "act"
    overrides = [*QUIET, "outer_steps=2", "inner_steps=10", "hidden=20", "compare_seeds=2", "wandb=null"]
    numbers = metalearn_activation.run(compose_app("metalearn_activation", overrides, out, cache_dir))
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
    ("override", "field"),
    [
        ("compare=[relu,tanh]", "compare"),
        ("inner_lr=-0.1", "inner_lr"),
    ],
)
def test_bad_config_is_rejected_before_work(tmp_path, cache_dir, override, field):
    cfg = compose_app("metalearn_activation", [*QUIET, "wandb=null", override], tmp_path / "bad", cache_dir)
    with pytest.raises(ValueError, match=field):
        metalearn_activation.run(cfg)
    assert not (tmp_path / "bad").exists()
