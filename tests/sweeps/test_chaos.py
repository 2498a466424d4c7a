"""Chaos: a sweep whose jobs are killed with SIGKILL at random moments, some of them in the middle of a
checkpoint write, and resumed after every kill, ends with every job "ok", the metrics of an uninterrupted
sweep, and no torn file.

The sweep runs in a forked child process, as the basic launcher runs a sweep's jobs (one after another,
`run_job` with `skip_completed=true`, what `python sweep.py resume=<dir>` runs), so that a kill and the
restart cost no interpreter start-up. The parent kills the child either after a random delay or while the
child is paused half-way through writing a checkpoint (`AtomicCheckpointIO.write` is patched in the child).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import select
import signal
import time
from pathlib import Path
from typing import IO

import pytest
import torch
from omegaconf import DictConfig, OmegaConf

from mnist1d.training.checkpoint_io import AtomicCheckpointIO
from mnist1d.training.job import run_job
from tests.helpers import ON_CPU, compose_run

# Small jobs with many checkpoints: an evaluation (and so best.ckpt and last.ckpt) every 5 steps; the MLP's
# dropout-free net and the TCN's dropout (restored RNG state) both have to resume exactly.
JOBS = [
    ["model=mlp", "seed=0"],
    ["model=tcn", "model.channels=[8,8]", "seed=1"],
    ["model=logistic", "seed=2"],
]
COMMON = ["trainer.max_steps=60", "eval_every=5", "chunk_steps=5", "num_threads=1", "skip_completed=true"]
COMMON += [ON_CPU]  # bit-identical metrics, and CUDA would not survive the fork
METRICS = ("steps", "history", "final_acc", "best_acc", "final_test_acc", "per_class_acc", "confusion_matrix")
FORK = multiprocessing.get_context("fork")


def sweep_configs(sweep_dir: Path, cache_dir: Path) -> list[DictConfig]:
    """The jobs' configs, resolved now: `${hydra:...}` values resolve against the latest composed config."""
    configs = []
    for number, job in enumerate(JOBS):
        cfg = compose_run(["logger=csv", *COMMON, *job], sweep_dir / f"{number}_job", cache_dir)
        OmegaConf.resolve(cfg)
        configs.append(cfg)
    return configs


def run_sweep(configs: list[DictConfig], pause_at_write: int | None, pipe: int) -> None:
    """The child: every job in turn, as a resumed sweep runs them; optionally stop in the middle of the
    `pause_at_write`-th checkpoint write (half of it written), tell the parent, and wait to be killed."""
    if pause_at_write is not None:
        writes = 0

        def write(self: AtomicCheckpointIO, file: IO[bytes], data: memoryview) -> None:
            nonlocal writes
            writes += 1
            if writes < pause_at_write:
                file.write(data)
                return
            file.write(data[: len(data) // 2])
            file.flush()
            os.write(pipe, b"w")
            time.sleep(600)

        AtomicCheckpointIO.write = write
    for cfg in configs:
        run_job(cfg)


def start(configs: list[DictConfig], pause_at_write: int | None) -> tuple[multiprocessing.Process, int]:
    read_end, write_end = os.pipe()
    child = FORK.Process(target=run_sweep, args=(configs, pause_at_write, write_end), daemon=True)
    child.start()
    os.close(write_end)
    return child, read_end


def partial_writes(sweep_dir: Path) -> set[Path]:
    return set(sweep_dir.rglob(".*.tmp"))


def check_nothing_torn(sweep_dir: Path) -> None:
    """Every file at a real path is whole: each JSON parses and each checkpoint loads."""
    for path in sweep_dir.rglob("*.json"):
        json.loads(path.read_text())
    for path in sweep_dir.rglob("*.ckpt"):
        assert "state_dict" in torch.load(path, map_location="cpu", weights_only=True), path
    assert not list(sweep_dir.rglob("*.unreadable*"))  # no checkpoint ever had to be moved aside


def run_to_completion(configs: list[DictConfig]) -> float:
    """Run the sweep's remaining jobs without a kill; returns how long that took."""
    started = time.perf_counter()
    child, read_end = start(configs, None)
    child.join(timeout=600)
    os.close(read_end)
    assert child.exitcode == 0
    return time.perf_counter() - started


def check_same_metrics(sweep_dir: Path, reference: Path) -> None:
    check_nothing_torn(sweep_dir)
    assert not partial_writes(sweep_dir)  # the resumed jobs removed what the kills left half-written
    for number in range(len(JOBS)):
        resumed = json.loads((sweep_dir / f"{number}_job" / "results.json").read_text())
        expected = json.loads((reference / f"{number}_job" / "results.json").read_text())
        assert resumed["status"] == expected["status"] == "ok"
        assert {key: resumed[key] for key in METRICS} == {key: expected[key] for key in METRICS}


def chaos(tmp_path: Path, cache_dir: Path, kills: int, seed: int) -> dict[str, int]:
    """Kill the sweep `kills` times, resuming it after each kill, and let the last resume finish; returns
    where the kills landed.

    Half the kills come after a random delay (up to half an uninterrupted sweep's time, so that they land
    anywhere: start-up, training, evaluation, checkpoint and results writes, the test), half while the
    child is stopped half-way through one of its next checkpoint writes. A sweep that completes between
    two kills is checked and a new one started, so the number of kills does not depend on the speed of
    the machine.
    """
    reference = tmp_path / "uninterrupted"
    run_to_completion(sweep_configs(reference, cache_dir))  # its first run may generate the dataset
    longest_delay = run_to_completion(sweep_configs(tmp_path / "timed", cache_dir)) / 2
    rng = random.Random(seed)
    landed = {"kills": 0, "during_checkpoint_write": 0, "paused_in_write": 0, "completed_sweeps": 0}
    sweep_dir = tmp_path / "killed-0"
    configs = sweep_configs(sweep_dir, cache_dir)
    while landed["kills"] < kills:
        pause_at_write = rng.randint(1, 6) if landed["kills"] % 2 else None  # every other kill
        before = partial_writes(sweep_dir)
        child, read_end = start(configs, pause_at_write)
        timeout = 60 if pause_at_write else rng.uniform(0.0, longest_delay)
        ready, _, _ = select.select([read_end], [], [], timeout)
        paused = bool(ready) and os.read(read_end, 1) == b"w"  # else: nothing, or EOF (the child ended)
        os.close(read_end)
        if paused or not ready:
            os.kill(child.pid, signal.SIGKILL)  # may come a moment after the child ended
        child.join()
        if child.exitcode == 0:  # the sweep completed before the kill: check it, start another
            check_same_metrics(sweep_dir, reference)
            landed["completed_sweeps"] += 1
            sweep_dir = tmp_path / f"killed-{landed['completed_sweeps']}"
            configs = sweep_configs(sweep_dir, cache_dir)
            continue
        assert child.exitcode == -signal.SIGKILL
        landed["kills"] += 1
        landed["paused_in_write"] += paused
        landed["during_checkpoint_write"] += any(
            ".ckpt-" in p.name for p in partial_writes(sweep_dir) - before
        )
        check_nothing_torn(sweep_dir)
    run_to_completion(configs)
    check_same_metrics(sweep_dir, reference)
    return landed


def test_sweep_killed_20_times_ends_complete_with_identical_metrics(tmp_path, cache_dir):
    landed = chaos(tmp_path, cache_dir, kills=20, seed=0)
    print(f"chaos: {landed}")
    assert (
        landed["kills"] == 20 and landed["paused_in_write"] == 10 and landed["during_checkpoint_write"] >= 10
    )


@pytest.mark.slow
def test_sweep_killed_100_times_ends_complete_with_identical_metrics(tmp_path, cache_dir):
    landed = chaos(tmp_path, cache_dir, kills=100, seed=1)
    print(f"chaos: {landed}")
    assert (
        landed["kills"] == 100 and landed["paused_in_write"] == 50 and landed["during_checkpoint_write"] >= 50
    )
