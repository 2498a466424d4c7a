"""A stack of runs: each member is the run its seed gives alone, writes what that run writes, fails alone,
and the stack stops and resumes as one."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig

from mnist1d.training.classifier import Classifier
from mnist1d.training.evaluate import evaluate
from mnist1d.training.fit import fit
from mnist1d.training.stacked.fit import STACKS_DIR, StackRun, train_stack
from tests.helpers import (
    QUICK_STACK,
    SignalAtStep,
    build_run,
    compose_eval,
    compose_run,
    first_train_loss,
    metrics_rows,
    read_results,
    seed_cfgs,
)

SEEDS = [0, 1, 2]


def member_cfgs(
    tmp_path: Path, cache_dir: Path, *overrides: str, seeds: list[int] = SEEDS
) -> list[DictConfig]:
    return seed_cfgs(tmp_path, cache_dir, [*QUICK_STACK, *overrides], seeds)


@pytest.mark.parametrize(("model", "order"), [("mlp", "shuffled"), ("resnet", "shuffled"), ("mlp", "cyclic")])
def test_members_start_with_their_own_runs_weights_and_batches(model, order, tmp_path, cache_dir):
    cfgs = member_cfgs(tmp_path / "stack", cache_dir, f"model={model}", f"data.order={order}")
    stack = StackRun(cfgs, tmp_path / STACKS_DIR)
    stack.datamodule.setup()
    stacked_batches = stack.datamodule.train_dataloader()
    for k, cfg in enumerate(cfgs):
        pl.seed_everything(cfg.seed, verbose=False)  # as fit() does before it builds the run
        run = build_run(cfg)
        datamodule, own = run.datamodule, run.module.net.state_dict()
        member = stack.module.net.member_state(k)
        assert member.keys() == own.keys()
        assert all(torch.equal(member[name], own[name]) for name in own)
        datamodule.setup()
        batches = datamodule.train_dataloader()
        for first in (0, 38, 79):  # across the ends of data epochs (40 minibatches each)
            for (x, y), (xs, ys) in zip(
                batches.steps(first, 3), stacked_batches.steps(first, 3), strict=True
            ):
                assert torch.equal(xs[k], x) and torch.equal(ys[k], y)


def test_a_stack_serves_the_data_its_members_datamodule_factory_builds(tmp_path, cache_dir):
    """experiment=pooling builds its DataModule through a factory (data.train_size, data.test_size): the
    stack serves exactly the splits and batches each member's own run gets from it."""
    cfgs = member_cfgs(tmp_path, cache_dir, "experiment=pooling", "data.train_size=500", "data.test_size=200")
    stack = StackRun(cfgs, tmp_path / STACKS_DIR)
    stack.datamodule.setup()
    stacked_batches = stack.datamodule.train_dataloader()
    for k, cfg in enumerate(cfgs):
        datamodule = build_run(cfg).datamodule
        datamodule.setup()
        for split in ("train", "test"):
            stacked, own = stack.datamodule.splits[split], datamodule.splits[split]
            assert [t.shape for t in stacked] == [t.shape for t in own]
            assert all(map(torch.equal, stacked, own))
        assert len(datamodule.splits["train"][0]) == 500 and len(datamodule.splits["test"][0]) == 200
        (x, y), (xs, ys) = datamodule.train_dataloader().steps(4, 1)[0], stacked_batches.steps(4, 1)[0]
        assert torch.equal(xs[k], x) and torch.equal(ys[k], y)


@pytest.mark.parametrize("model", ["logistic", "cnn"])
def test_members_train_as_their_own_runs_and_write_what_they_write(model, tmp_path, cache_dir):
    overrides = [f"model={model}", "trainer.log_every_n_steps=1", "+trainer.gradient_clip_val=0.5"]
    cfgs = member_cfgs(tmp_path / "stack", cache_dir, *overrides)
    assert len(train_stack(cfgs, tmp_path / "stack")) == len(SEEDS)
    for cfg in member_cfgs(tmp_path / "separate", cache_dir, *overrides):
        fit(cfg)
    for seed in SEEDS:
        stacked_dir, separate_dir = tmp_path / "stack" / f"{seed}_run", tmp_path / "separate" / f"{seed}_run"
        assert abs(first_train_loss(stacked_dir) - first_train_loss(separate_dir)) < 1e-6
        stacked, separate = read_results(stacked_dir), read_results(separate_dir)
        assert stacked.keys() == separate.keys() and separate["stacked_with"] is None
        assert stacked["stacked_with"] == [f"{other}_run" for other in SEEDS if other != seed]
        assert stacked["status"] == "ok" and stacked["steps"] == separate["steps"] == 8
        assert [r["step"] for r in stacked["history"]] == [r["step"] for r in separate["history"]] == [4, 8]
        assert abs(stacked["final_test_acc"] - separate["final_test_acc"]) < 0.02
        assert stacked["parameters"] == separate["parameters"]
        header = metrics_rows(stacked_dir)[0].keys()
        assert header == metrics_rows(separate_dir)[0].keys()
        assert (stacked_dir / "confusion_matrix.png").exists()


def test_member_checkpoints_and_loggers_are_ordinary_runs(tmp_path, cache_dir):
    cfgs = member_cfgs(tmp_path, cache_dir, "model=mlp", "logger=wandb", "logger.wandb.mode=offline")
    train_stack(cfgs, tmp_path)
    results = read_results(tmp_path / "1_run")
    last = tmp_path / "1_run" / "checkpoints" / "last.ckpt"
    loaded = Classifier.load_from_checkpoint(last, weights_only=True)
    (stack_checkpoint,) = (tmp_path / STACKS_DIR).glob("*/stack.ckpt")
    stacked = torch.load(stack_checkpoint, weights_only=True)["state_dict"]
    for name, value in loaded.state_dict().items():  # the member's final weights, exactly
        assert torch.equal(
            value, stacked[name][1] if name.startswith("net.") else stacked[f"members.1.{name}"]
        )
    scored = evaluate(compose_eval([f"ckpt_path={last}"], tmp_path / "eval", cache_dir))
    assert scored == results["final_test_acc"]  # eval.py scores it as the stack scored the member
    assert read_results(tmp_path / "eval")["confusion_matrix"] == results["confusion_matrix"]
    best = torch.load(tmp_path / "1_run" / "checkpoints" / "best.ckpt", weights_only=True)
    assert best["callbacks"]["RunRecorder"]["history"][-1]["test/acc"] == results["best_acc"]
    runs = [next((tmp_path / f"{seed}_run" / "wandb").glob("offline-run-*")).name for seed in SEEDS]
    assert len(set(runs)) == len(SEEDS)  # one W&B run per member
    # resumed as the run of its own seed, with the basic launcher: it goes on from the member's state
    longer = compose_run(
        [*QUICK_STACK, "model=mlp", "seed=1", "trainer.max_steps=12", f"ckpt_path={last}"],
        tmp_path / "alone",
        cache_dir,
    )
    fit(longer)
    resumed = read_results(tmp_path / "alone")
    assert resumed["status"] == "ok" and resumed["steps"] == 12
    assert resumed["history"][:2] == results["history"]


def test_members_score_with_the_batchnorm_statistics_eval_norm_names(tmp_path, cache_dir):
    """model.eval_norm=batch in a stack: each member's evaluations and test are its trained net left in
    training mode scoring the whole test split (as its own run scores, tests/training/test_eval_norm.py)."""
    cfgs = member_cfgs(tmp_path, cache_dir, "experiment=beebe", "model=resnet", "model.channels=8")
    assert {cfg.model.eval_norm for cfg in cfgs} == {"batch"} and cfgs[0].data.order == "cyclic"
    train_stack(cfgs, tmp_path)
    datamodule = build_run(cfgs[0]).datamodule
    datamodule.setup()
    x, y = datamodule.splits["test"]
    for seed in SEEDS:
        results = read_results(tmp_path / f"{seed}_run")
        last = tmp_path / f"{seed}_run" / "checkpoints" / "last.ckpt"
        module = Classifier.load_from_checkpoint(last, weights_only=True)
        assert module.hparams.eval_norm == "batch"
        with torch.no_grad():
            batch_statistics = module.net.train()(x)
            running_averages = module.net.eval()(x)
        accuracy = (batch_statistics.argmax(-1) == y).float().mean().item()
        assert results["final_test_acc"] == pytest.approx(accuracy, abs=1e-6)
        loss = torch.nn.functional.cross_entropy(batch_statistics, y).item()
        assert results["history"][-1]["test/loss"] == pytest.approx(loss, rel=1e-5)
        other = torch.nn.functional.cross_entropy(running_averages, y).item()
        assert other != pytest.approx(loss, rel=1e-3)  # so the loss tells the two statistics apart


class PoisonMember(pl.Callback):
    """Makes one member's weights NaN before optimizer step `step` (as a diverging run's become)."""

    def __init__(self, member: int, step: int) -> None:
        self.member, self.step = member, step

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *_: object) -> None:
        if trainer.global_step == self.step - 1:
            with torch.no_grad():
                next(pl_module.net.parameters())[self.member] = float("nan")


def test_a_member_whose_loss_is_not_finite_fails_alone(tmp_path, cache_dir):
    cfgs = {name: member_cfgs(tmp_path / name, cache_dir, "model=mlp") for name in ("clean", "poisoned")}
    train_stack(cfgs["clean"], tmp_path / "clean")
    poisoned = StackRun(cfgs["poisoned"], tmp_path / "poisoned" / STACKS_DIR / "stack")
    poisoned.trainer.callbacks.append(PoisonMember(member=1, step=3))
    outcomes = poisoned.train(None)
    failed = read_results(tmp_path / "poisoned" / "1_run")
    assert (
        failed["status"] == "failed"
        and "NonFiniteLossError" in failed["error"]
        and "at step 3:" in failed["error"]
    )
    assert isinstance(outcomes[1], FloatingPointError)
    assert (
        failed["steps"] == 4 and [r["step"] for r in failed["history"]] == []
    )  # as its own run: the chunk's end
    for seed in (0, 2):  # the others, bit for bit the runs of a stack where nothing failed
        clean, other = (
            read_results(tmp_path / "clean" / f"{seed}_run"),
            read_results(tmp_path / "poisoned" / f"{seed}_run"),
        )
        assert other["status"] == "ok"
        assert other["history"] == clean["history"] and other["confusion_matrix"] == clean["confusion_matrix"]


def test_sigterm_stops_the_stack_and_resume_gives_the_uninterrupted_results(tmp_path, cache_dir):
    overrides = ["model=cnn", "trainer.max_steps=16"]
    train_stack(member_cfgs(tmp_path / "full", cache_dir, *overrides), tmp_path / "full")
    cfgs = member_cfgs(tmp_path / "stopped", cache_dir, *overrides, "skip_completed=true")
    stopped = StackRun(cfgs, tmp_path / "stopped" / STACKS_DIR / f"0_run+{len(SEEDS) - 1}")
    stopped.trainer.callbacks.append(SignalAtStep(6, signal.SIGTERM))
    with pytest.raises(SystemExit) as stop:
        stopped.train(None)
    assert stop.value.code == 128 + signal.SIGTERM
    for seed in SEEDS:
        interrupted = read_results(tmp_path / "stopped" / f"{seed}_run")
        assert interrupted["status"] == "interrupted" and interrupted["steps"] == 6
        assert (
            torch.load(tmp_path / "stopped" / f"{seed}_run" / "checkpoints" / "last.ckpt", weights_only=True)[
                "global_step"
            ]
            == 6
        )
    train_stack(cfgs, tmp_path / "stopped")  # what `sweep.py resume=` or `skip_completed=true` does
    for seed in SEEDS:
        full, resumed = (
            read_results(tmp_path / "full" / f"{seed}_run"),
            read_results(tmp_path / "stopped" / f"{seed}_run"),
        )
        assert resumed["status"] == "ok" and resumed["steps"] == 16
        assert (
            resumed["history"] == full["history"] and resumed["confusion_matrix"] == full["confusion_matrix"]
        )


@pytest.mark.slow  # ten seeds, stacked and one by one: about a minute
def test_ten_stacked_seeds_agree_with_ten_separate_runs(tmp_path, cache_dir):
    """After the first steps the batched kernels round differently, so a member drifts from its separate run
    as two runs on different hardware would: the ten members' accuracies must agree in distribution."""
    seeds = list(range(10))
    overrides = ["model=cnn", "trainer.max_steps=400", "eval_every=200", "chunk_steps=50"]
    train_stack(member_cfgs(tmp_path / "stack", cache_dir, *overrides, seeds=seeds), tmp_path / "stack")
    for cfg in member_cfgs(tmp_path / "separate", cache_dir, *overrides, seeds=seeds):
        fit(cfg)
    accuracies = {
        way: torch.tensor([read_results(tmp_path / way / f"{seed}_run")["final_test_acc"] for seed in seeds])
        for way in ("stack", "separate")
    }
    stacked, separate = accuracies["stack"], accuracies["separate"]
    standard_error = ((stacked.var() + separate.var()) / len(seeds)).sqrt()
    assert abs(stacked.mean() - separate.mean()) < 3 * standard_error + 0.005
    assert (stacked - separate).abs().max() < 0.05  # each member near its own run
