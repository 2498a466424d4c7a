"""Stacks on a CUDA GPU (skipped elsewhere; `pytest -m gpu`): the stacked step is captured as a CUDA graph
and matches the eager stacked step, and a member's first steps match its own run on the device."""

from __future__ import annotations

import pytest

from mnist1d.training.fit import fit
from mnist1d.training.stacked.fit import train_stack
from tests.helpers import QUICK_STACK, first_train_loss, read_results, seed_cfgs

pytestmark = pytest.mark.gpu

SEEDS = [0, 1, 2]
SHORT = ["trainer.accelerator=gpu", "trainer.max_steps=60", "eval_every=20", "chunk_steps=10"]


@pytest.mark.parametrize("model", ["mlp", "cnn", "resnet", "tcn"])
def test_the_stacked_step_is_captured_and_matches_the_eager_one(model, tmp_path, cache_dir):
    runs = {}
    for mode in ("auto", "false"):
        cfgs = seed_cfgs(
            tmp_path / mode, cache_dir, [*QUICK_STACK, f"model={model}", *SHORT, f"cuda_graphs={mode}"], SEEDS
        )
        train_stack(cfgs, tmp_path / mode)
        runs[mode] = [read_results(tmp_path / mode / f"{cfg.seed}_run") for cfg in cfgs]
    for graphed, eager in zip(runs["auto"], runs["false"], strict=True):
        assert graphed["status"] == eager["status"] == "ok" and graphed["accelerator"] == "cuda:0"
        assert graphed["cuda_graphs"] is True and eager["cuda_graphs"] is False
        assert graphed["final_test_acc"] == pytest.approx(eager["final_test_acc"], abs=0.02)


def test_members_first_losses_match_their_own_runs_on_the_gpu(tmp_path, cache_dir):
    overrides = ["model=cnn", *SHORT, "trainer.log_every_n_steps=1", "trainer.deterministic=true"]
    cfgs = seed_cfgs(tmp_path / "stack", cache_dir, [*QUICK_STACK, *overrides], SEEDS)
    train_stack(cfgs, tmp_path / "stack")
    for cfg in seed_cfgs(tmp_path / "separate", cache_dir, [*QUICK_STACK, *overrides], SEEDS):
        fit(cfg)
        stacked, alone = (
            first_train_loss(tmp_path / way / f"{cfg.seed}_run") for way in ("stack", "separate")
        )
        assert abs(stacked - alone) < 1e-5
