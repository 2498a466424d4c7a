"""Interruptions resume exactly, diverging runs fail clearly, W&B trouble costs nothing, loading is safe."""

from __future__ import annotations

import logging
import math
import os
import signal
import socket
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
from conftest import ROOT, read_results

from mnist1d.callbacks import DivergenceGuard, NonFiniteLossError
from mnist1d.sweep_job import run_job
from mnist1d.training import train

# TCN has dropout, so an exact resume also needs the RNG state that checkpoints carry.
QUICK = ["model=logistic", "trainer.max_steps=4", "eval_every=2"]
# Chunks of 5 steps: the interruption at step 15 is between evaluations and mid-epoch.
RESUMABLE = ["model=tcn", "model.channels=[8,8]", "eval_every=10", "seed=3", "trainer.max_steps=30"]
RESUMABLE += ["chunk_steps=5"]


class SignalAtStep(pl.Callback):
    """Sends this process `signum` after training step `step`, like a user's Ctrl-C or SLURM's SIGTERM."""

    def __init__(self, step: int, signum: int) -> None:
        self.step, self.signum = step, signum

    def on_train_batch_end(self, trainer: pl.Trainer, *_: object) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signum)


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)], ids=["SIGTERM", "Ctrl-C"]
)
def test_interrupted_run_saves_checkpoint_and_resumes_to_identical_metrics(signum, make_cfg, tmp_path):
    train(make_cfg(*RESUMABLE, run="full"))
    send = [f"+callbacks.signal._target_={__name__}.SignalAtStep", "+callbacks.signal.step=15"]
    with pytest.raises(SystemExit) as stopped:
        train(make_cfg(*RESUMABLE, *send, f"+callbacks.signal.signum={int(signum)}", run="part"))
    assert stopped.value.code == 128 + signum
    interrupted = read_results(tmp_path / "part")
    last = tmp_path / "part" / "checkpoints" / "last.ckpt"
    assert interrupted["status"] == "interrupted" and interrupted["steps"] == 15
    assert interrupted["error"] == f"{signum.name} at step 15; resume with ckpt_path={last}"
    assert [record["step"] for record in interrupted["history"]] == [10]
    assert torch.load(last, weights_only=True)["global_step"] == 15

    train(make_cfg(*RESUMABLE, f"ckpt_path={last}", run="part"))
    full, resumed = read_results(tmp_path / "full"), read_results(tmp_path / "part")
    assert resumed["status"] == "ok" and resumed["steps"] == 30
    assert resumed["history"] == full["history"]
    assert resumed["final_test_acc"] == full["final_test_acc"]
    assert resumed["confusion_matrix"] == full["confusion_matrix"]


def test_continued_sweep_job_resumes_an_interrupted_run_from_its_last_checkpoint(make_cfg, tmp_path):
    """What `python sweep.py resume=<dir>` (and a requeued SLURM job with skip_completed=true) does."""
    train(make_cfg(*RESUMABLE, run="full"))
    send = [f"+callbacks.signal._target_={__name__}.SignalAtStep", "+callbacks.signal.step=15"]
    with pytest.raises(SystemExit):
        train(make_cfg(*RESUMABLE, *send, f"+callbacks.signal.signum={int(signal.SIGTERM)}", run="part"))
    run_job(make_cfg(*RESUMABLE, "skip_completed=true", run="part"))
    full, resumed = read_results(tmp_path / "full"), read_results(tmp_path / "part")
    assert resumed["config"]["ckpt_path"] == str(tmp_path / "part" / "checkpoints" / "last.ckpt")
    assert resumed["status"] == "ok" and resumed["history"] == full["history"]


@pytest.mark.slow
def test_sigterm_to_train_py_then_resume_matches_uninterrupted_run(make_cfg, tmp_path, cache_dir):
    run_dir = tmp_path / "cli"
    command = [sys.executable, "train.py", *RESUMABLE, "trainer.max_steps=100000", "logger=csv"]
    command += [f"hydra.run.dir={run_dir}", f"paths.cache_dir={cache_dir}"]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 300
    log = run_dir / "train.log"
    while not (log.exists() and "step 10/" in log.read_text()) and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 128 + signal.SIGTERM
    interrupted = read_results(run_dir)
    assert interrupted["status"] == "interrupted" and interrupted["steps"] >= 10
    assert "resume with ckpt_path=" in interrupted["error"]

    steps = interrupted["steps"] + 20
    train(make_cfg(*RESUMABLE, f"trainer.max_steps={steps}", run="full"))
    last = run_dir / "checkpoints" / "last.ckpt"
    train(make_cfg(*RESUMABLE, f"trainer.max_steps={steps}", f"ckpt_path={last}", run="resumed"))
    full, resumed = read_results(tmp_path / "full"), read_results(tmp_path / "resumed")
    assert resumed["steps"] == steps
    assert resumed["history"] == full["history"]
    assert resumed["final_test_acc"] == full["final_test_acc"]


@pytest.mark.parametrize("chunk", [1, 25])
def test_diverging_run_stops_at_the_first_non_finite_step_and_is_reported_failed(chunk, make_cfg, tmp_path):
    """The error names the first bad step (the second here), at the end of its chunk of steps."""
    diverging = ["model=mlp", "optimizer=sgd", "optimizer.lr=1e20", "trainer.max_steps=50"]
    with pytest.raises(NonFiniteLossError) as diverged:
        train(make_cfg(*diverging, f"chunk_steps={chunk}"))
    results = read_results(tmp_path / "run")
    assert results["status"] == "failed"
    assert results["error"] == f"NonFiniteLossError: {diverged.value}"
    assert "not finite (NaN or inf) at step 2:" in results["error"]
    assert results["steps"] == max(chunk, 2) and results["history"] == []


def test_resume_with_another_chunk_size_is_refused(make_cfg, tmp_path):
    """Lightning counts evaluations in chunks, so a checkpoint only continues with its own chunk size."""
    train(make_cfg(*RESUMABLE, "trainer.max_steps=10", run="first"))
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    assert last.exists()
    with pytest.raises(ValueError, match="resuming with data chunk 10, but the checkpoint used 5"):
        train(make_cfg(*RESUMABLE, "chunk_steps=10", f"ckpt_path={last}", run="second"))


def test_divergence_guard_names_the_first_bad_step_of_a_buffered_window():
    """On accelerators the guard reads its flags every `check_every` steps; the step must still be exact."""
    guard = DivergenceGuard(check_every=4)
    trainer = SimpleNamespace(global_step=0, max_steps=100, log_every_n_steps=50)
    losses = [1.0, 2.0, 3.0, 0.5, 1.0, math.inf, math.nan, 2.0]
    with pytest.raises(NonFiniteLossError, match="at step 6: "):
        for trainer.global_step, loss in enumerate(losses, start=1):
            guard.on_train_batch_end(trainer, None, {"loss": torch.tensor(loss)}, None, 0)
            assert trainer.global_step < 8  # steps 1-4 pass, 5-7 are only read at the window's end
    assert trainer.global_step == 8


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("api_key", [None, "0" * 40], ids=["no-credentials", "unreachable-server"])
def test_wandb_online_without_network_or_credentials_keeps_local_results(
    api_key, make_cfg, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NETRC", str(tmp_path / "home" / ".netrc"))
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    if api_key:
        monkeypatch.setenv("WANDB_API_KEY", api_key)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="mnist1d.loggers"):
        train(make_cfg("logger=wandb", "logger.wandb.mode=online", "logger.wandb.init_timeout=3", *QUICK))
    assert time.monotonic() - started < 90  # bounded: no prompt, no endless retry
    warnings = [r.getMessage() for r in caplog.records if r.name == "mnist1d.loggers"]
    assert len(warnings) == 1 and "logging offline" in warnings[0]
    results = read_results(tmp_path / "run")
    assert results["status"] == "ok" and results["steps"] == results["max_steps"]
    assert (tmp_path / "run" / "csv" / "metrics.csv").exists()
    assert len(list((tmp_path / "run" / "wandb").glob("offline-run-*"))) == 1  # syncable later


class Exploit:
    """Unpickling this creates a file: what a malicious checkpoint could do instead."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (self.marker, "w")


def test_resume_refuses_a_checkpoint_that_would_run_code(make_cfg, tmp_path):
    marker = tmp_path / "code-ran"
    checkpoint = tmp_path / "malicious.ckpt"
    torch.save({"state_dict": {}, "payload": Exploit(str(marker))}, checkpoint)
    with pytest.raises(Exception, match="Weights only load failed"):
        train(make_cfg("model=logistic", "trainer.max_steps=2", f"ckpt_path={checkpoint}"))
    assert not marker.exists()
    assert read_results(tmp_path / "run")["status"] == "failed"
