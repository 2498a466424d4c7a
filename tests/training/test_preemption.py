"""A run as a SLURM job, without a cluster: Lightning neither saves nor requeues, and SLURM's time-limit
signal saves a checkpoint before submitit's handler requeues (on a real cluster: test_slurm_jobs.py)."""

from __future__ import annotations

import signal
from types import FrameType

import pytest
import pytorch_lightning as pl
import torch

from mnist1d.training.fit import fit
from tests.helpers import RESUMABLE, build_run, read_results, signal_at

# What srun sets for a one-task job step (Lightning detects SLURM by SLURM_NTASKS).
SLURM_STEP = {"SLURM_NTASKS": "1", "SLURM_JOB_NAME": "train", "SLURM_JOB_ID": "7", "SLURM_PROCID": "0"}
SLURM_STEP |= {"SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_NODELIST": "node1"}


class SignalHandlersAtTrainStart(pl.Callback):
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.sigusr1 = signal.getsignal(signal.SIGUSR1)


def test_lightning_installs_no_requeue_handler_in_a_slurm_job(make_cfg, monkeypatch):
    """With auto-requeue on, Lightning's SLURMEnvironment would handle SIGUSR1: save an "hpc" checkpoint
    and call `scontrol requeue`, a second save and a second requeue."""
    for name, value in SLURM_STEP.items():
        monkeypatch.setenv(name, value)
    run = build_run(make_cfg("model=logistic", "trainer.max_steps=2", "eval_every=2"))
    datamodule, module, trainer = run.datamodule, run.module, run.trainer
    probe = SignalHandlersAtTrainStart()
    trainer.callbacks.append(probe)
    trainer.fit(module, datamodule=datamodule)
    assert probe.sigusr1 == signal.SIG_DFL


class FakeSubmitit:
    """submitit's USR2 handler in a job: it requeues and exits, or refuses when timed out too often."""

    def __init__(self, checkpoint: str, refuse: bool = False) -> None:
        self.checkpoint, self.refuse = checkpoint, refuse
        self.calls: list[int] = []

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.calls.append(torch.load(self.checkpoint, weights_only=True)["global_step"])  # saved by then
        if self.refuse:
            raise RuntimeError("Job not requeued because: timed-out too many times.")
        raise SystemExit(-1)


@pytest.mark.parametrize("refuse", [False, True], ids=["requeued", "timed out too often"])
def test_time_limit_signal_saves_a_checkpoint_then_submitit_requeues(refuse, make_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "slurm")
    monkeypatch.delenv("SUBMITIT_PREEMPT_SIGNAL", raising=False)
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    submitit = FakeSubmitit(str(last), refuse)
    previous = signal.signal(signal.SIGUSR2, submitit)
    try:
        with pytest.raises(SystemExit) as stopped:
            fit(make_cfg(*RESUMABLE, *signal_at(15, signal.SIGUSR2)))
        assert signal.getsignal(signal.SIGUSR2) is submitit  # given back when training stopped
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert submitit.calls == [15]  # once, after last.ckpt of step 15 was saved
    assert stopped.value.code == 128 + signal.SIGUSR2
    results = read_results(tmp_path / "run")
    outcome = "(not requeued: Job not requeued because" if refuse else "(requeued by submitit);"
    assert results["status"] == "interrupted" and results["steps"] == 15
    assert results["error"].startswith(f"SIGUSR2 at step 15 {outcome}")


def test_outside_a_submitit_job_the_time_limit_signal_is_left_alone(make_cfg, tmp_path, monkeypatch):
    monkeypatch.delenv("SUBMITIT_EXECUTOR", raising=False)
    calls = []
    previous = signal.signal(signal.SIGUSR2, lambda signum, frame: calls.append(signum))
    try:
        fit(make_cfg(*RESUMABLE, *signal_at(15, signal.SIGUSR2)))
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert calls == [signal.SIGUSR2] and read_results(tmp_path / "run")["status"] == "ok"
