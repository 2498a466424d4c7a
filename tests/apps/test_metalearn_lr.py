"""`python -m mnist1d.apps.metalearn_lr`: a small run writes its figure, JSON and W&B run; a bad config is
refused."""

from __future__ import annotations

import json

import matplotlib.image
import numpy as np
import pytest

from mnist1d.apps import metalearn_lr
from tests.helpers import compose_app

QUIET = ["data.num_samples=1000", "threads=1"]


def test_small_lr_run_moves_both_starts_toward_each_other_and_logs(tmp_path, cache_dir):
    out = tmp_path / "lr"
    overrides = [*QUIET, "outer_steps=3", "inner_steps=20", "wandb.mode=offline"]
    numbers = metalearn_lr.run(compose_app("metalearn_lr", overrides, out, cache_dir))
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


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("initial_lrs=[0.1,-1]", "initial_lrs"),
        ("inner_steps=0", "inner_steps"),
    ],
)
def test_bad_config_is_rejected_before_work(tmp_path, cache_dir, override, field):
    cfg = compose_app("metalearn_lr", [*QUIET, "wandb=null", override], tmp_path / "bad", cache_dir)
    with pytest.raises(ValueError, match=field):
        metalearn_lr.run(cfg)
    assert not (tmp_path / "bad").exists()
