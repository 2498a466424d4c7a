"""`hydra/launcher=stacked` as users run it, and what it stacks or runs one by one (and says why)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from mnist1d.training.stacked.launcher import stack_key
from mnist1d.training.stacked.stackable import refusal
from tests.helpers import ON_CPU, ROOT, compose_run, read_results

LIMITS = {"cpu": 500_000, "cuda": None, "mps": None}


def test_jobs_that_differ_only_in_their_seed_share_a_stack_key():
    assert stack_key(["model=cnn", "seed=0"]) == stack_key(["seed=7", "model=cnn"])
    assert stack_key(["model=cnn", "seed=0"]) != stack_key(["model=mlp", "seed=0"])
    assert stack_key(["optimizer.lr=0.1", "seed=1"]) != stack_key(["optimizer.lr=0.2", "seed=1"])


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        (["model=cnn"], None),
        (
            ["model=gru"],
            "the net cannot be stacked (RuntimeError: Batching rule not implemented for aten::gru",
        ),
        (["model=resnet"], "on cpu a training step of 2,988,800 FLOPs per sample"),
        (  # Beebe et al.'s TCN draws its skip projections from the one global random stream on every call
            ["experiment=beebe", "model=tcn"],
            "the net cannot be stacked (RuntimeError: vmap: Cannot ask for different inplace randomness",
        ),
        (
            ["model=cnn", "optimizer._target_=torch.optim.LBFGS", "~optimizer.weight_decay"],
            "optimizer LBFGS: not one of the element-wise",
        ),
        (
            ["model=cnn", "+callbacks.stop._target_=pytorch_lightning.callbacks.EarlyStopping"],
            "callbacks.stop:",
        ),
        (["model=cnn", "+trainer.max_time=00:00:01:00"], "trainer.max_time is set"),
        (["model=cnn", "compile=true"], "compile=true"),
        (["model=cnn", "trainer.max_steps=-5"], "the config is refused (trainer.max_steps=-5 is invalid"),
    ],
)
def test_refusal_says_why_a_config_is_not_stacked(overrides, reason, tmp_path, cache_dir):
    cfg = compose_run([*overrides, "logger=csv", ON_CPU], tmp_path, cache_dir)
    OmegaConf.resolve(cfg)
    found = refusal(cfg, LIMITS)
    assert found == reason if reason is None else reason in found, found


def test_train_py_multirun_stacks_the_seeds_it_can_and_runs_the_others_one_by_one(tmp_path, cache_dir):
    """Logistic regression is stacked; the GRU (no batching rule for nn.GRU) runs one job at a time, and one
    log line says so. Every job leaves an ordinary run directory."""
    sweep_dir = tmp_path / "multirun"
    command = [sys.executable, "train.py", "-m", "model=logistic,gru", "seed=0,1", "hydra/launcher=stacked"]
    command += ["trainer.max_steps=4", "eval_every=2", "logger=csv", ON_CPU, f"paths.cache_dir={cache_dir}"]
    done = subprocess.run(
        [*command, f"hydra.sweep.dir={sweep_dir}"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "Jobs #0, #1 (seeds [0, 1]) train as one stack" in output
    fallback = [line for line in output.splitlines() if "run one by one, not stacked" in line]
    assert len(fallback) == 1 and "Jobs #2, #3" in fallback[0] and "aten::gru" in fallback[0]
    for job, seed in ((0, 0), (1, 1)):
        results = read_results(sweep_dir / f"{job}_logistic-4steps-seed{seed}")
        assert results["status"] == "ok" and results["seed"] == seed
        assert results["stacked_with"] == [f"{1 - job}_logistic-4steps-seed{1 - seed}"]
        assert (sweep_dir / f"{job}_logistic-4steps-seed{seed}" / "checkpoints" / "best.ckpt").exists()
    for job, seed in ((2, 0), (3, 1)):
        results = read_results(sweep_dir / f"{job}_gru-4steps-seed{seed}")
        assert results["status"] == "ok" and results["stacked_with"] is None
