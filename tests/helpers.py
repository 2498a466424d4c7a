"""What several test modules share: paths, config composition as the commands do it, reading results."""

from __future__ import annotations

import contextlib
import csv
import errno
import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from mnist1d.config.compose import APPS_CONF, CONF_DIR, TRAIN_CONF, compose_config, compose_train
from mnist1d.extras import EXTRAS, installed
from mnist1d.training.eval_norm import split_net_config
from mnist1d.training.fit import BuiltRun, build, fit

ROOT = CONF_DIR.parent


def needs(module: str) -> pytest.MarkDecorator:
    """Skip a test of an optional feature where its extra is not installed, naming the extra."""
    reason = f"the {EXTRAS[module]} extra is not installed (pip install -e '.[{EXTRAS[module]}]')"
    return pytest.mark.skipif(not installed(module), reason=reason)


def compose_run(overrides: list[str], output_dir: Path, cache_dir: Path) -> DictConfig:
    """The config `python train.py <overrides>` would run, writing into `output_dir`."""
    return compose_train([f"paths.output_dir={output_dir}", f"paths.cache_dir={cache_dir}", *overrides])


def compose_eval(overrides: list[str], output_dir: Path, cache_dir: Path) -> DictConfig:
    """The config `python eval.py <overrides>` would run on the CPU, writing into `output_dir`."""
    return compose_config(
        TRAIN_CONF,
        "eval",
        [f"paths.output_dir={output_dir}", f"paths.cache_dir={cache_dir}", ON_CPU, *overrides],
    )


def build_run(cfg: DictConfig) -> BuiltRun:
    """What `fit` builds for `cfg` before it trains (without the validation, whose probe draws random
    numbers)."""
    return build(cfg, instantiate(cfg.data))


def compose_app(name: str, overrides: list[str], output_dir: Path, cache_dir: Path) -> DictConfig:
    """The config `python -m mnist1d.apps.<name> <overrides>` would run, writing into `output_dir`."""
    return compose_config(
        APPS_CONF, name, [f"paths.output_dir={output_dir}", f"paths.cache_dir={cache_dir}", *overrides]
    )


def read_results(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "results.json").read_text())


class SignalAtStep(pl.Callback):
    """Sends this process `signum` after training step `step`, like a user's Ctrl-C or SLURM's SIGTERM.

    Added to a run as `+callbacks.signal._target_=tests.helpers.SignalAtStep`.
    """

    def __init__(self, step: int, signum: int) -> None:
        self.step, self.signum = step, signum

    def on_train_batch_end(self, trainer: pl.Trainer, *_: object) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signum)


def signal_at(step: int, signum: int) -> list[str]:
    """The overrides that add a `SignalAtStep` to a run."""
    return [
        f"+callbacks.signal._target_={SignalAtStep.__module__}.SignalAtStep",
        f"+callbacks.signal.step={step}",
        f"+callbacks.signal.signum={int(signum)}",
    ]


class SlowSteps(pl.Callback):
    """Sleeps `seconds` after every training_step call (one chunk of steps): a run that lasts long enough to
    be interrupted on purpose whatever the machine's speed, with the metrics of the same run without it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_train_batch_end(self, *_: object) -> None:
        time.sleep(self.seconds)


def slow_steps(seconds: float) -> list[str]:
    """The overrides that add a `SlowSteps` to a run."""
    return [f"+callbacks.slow._target_={__name__}.SlowSteps", f"+callbacks.slow.seconds={seconds}"]


# A run that is exactly resumable only with what checkpoints carry: the TCN has dropout (RNG state), and with
# chunks of 5 steps an interruption at step 15 falls between evaluations and mid-epoch.
RESUMABLE = ["model=tcn", "model.channels=[8,8]", "eval_every=10", "seed=3", "trainer.max_steps=30"]
RESUMABLE += ["chunk_steps=5"]
# Tests that compare runs bit for bit train on the CPU, where identical runs give identical numbers; on a GPU
# they do only with trainer.deterministic=true (tests/training/test_gpu.py checks that).
ON_CPU = "trainer.accelerator=cpu"
RESUMABLE += [ON_CPU]
# Short runs to compare stacked with separate ones: on the CPU, one thread, an evaluation every 4 steps.
QUICK_STACK = ["logger=csv", "eval_every=4", "trainer.max_steps=8", "chunk_steps=2", ON_CPU, "num_threads=1"]


def seed_cfgs(tmp_path: Path, cache_dir: Path, overrides: list[str], seeds: list[int]) -> list[DictConfig]:
    """The resolved configs of `train.py -m seed=<seeds> <overrides>`, in `<tmp_path>/<seed>_run`."""
    cfgs = []
    for seed in seeds:
        cfg = compose_run([*overrides, f"seed={seed}"], tmp_path / f"{seed}_run", cache_dir)
        OmegaConf.resolve(cfg)  # now, while Hydra's config is this one's
        cfgs.append(cfg)
    return cfgs


def metrics_rows(run_dir: Path) -> list[dict[str, str]]:
    """The rows of a run's CSV log."""
    with (run_dir / "csv" / "metrics.csv").open() as file:
        return list(csv.DictReader(file))


def first_train_loss(run_dir: Path) -> float:
    return next(float(row["train/loss"]) for row in metrics_rows(run_dir) if row["train/loss"])


@functools.cache
def net_config(name: str) -> dict[str, Any]:
    """The net's constructor config of `model=<name>` as train.py composes it (defaults applied)."""
    cfg = compose_train([f"model={name}"])
    return split_net_config(OmegaConf.to_container(cfg.model, resolve=True))[0]


def build_model(name: str, seq_length: int = 40, **overrides: object) -> nn.Module:
    """The net of conf/train/model/<name>.yaml, seeded, with constructor overrides."""
    torch.manual_seed(0)
    return instantiate(net_config(name), seq_length=seq_length, num_classes=10, **overrides)


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def train_grid(make_cfg: Callable[..., DictConfig], grid: list[list[str]]) -> None:
    """Train each override set into its own job directory, as a multirun of train.py would."""
    for job, overrides in enumerate(grid):
        fit(make_cfg(*overrides, run=f"{job}_job"))


def report_files(paths: list[Path], stem: str) -> dict[str, Any]:
    """Check that a report wrote `<stem>`.json/.png/.pdf (real PNG and PDF); returns the JSON."""
    assert sorted(p.name for p in paths) == sorted(f"{stem}{suffix}" for suffix in (".json", ".png", ".pdf"))
    folder = paths[0].parent
    assert (folder / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (folder / f"{stem}.pdf").read_bytes()[:5] == b"%PDF-"
    return json.loads((folder / f"{stem}.json").read_text())


def result_row(model: str, steps: int, seed: int, accuracies: list[float], **extra: Any) -> dict[str, Any]:
    """A sweep row (see mnist1d/sweeps/summary.py) of a completed run evaluated every 250 steps."""
    history = [{"step": 250 * (i + 1), "test/acc": acc} for i, acc in enumerate(accuracies)]
    return {
        "job": None, "job_dir": f"{model}-{steps}-{seed}", "model": model, "steps": steps, "seed": seed,
        "status": "ok", "error": None, "final_acc": accuracies[-1], "best_acc": max(accuracies),
        "final_test_acc": accuracies[-1], "parameters": {"cnn": 5210, "gru": 5134}[model], "wall_time_s": 1.0,
        "steps_per_s": 100.0, "shared_budget": False, "source_run": f"{model}-{steps}-{seed}",
        "overrides": {}, "history": history, "config": {"eval_split": "test", "data": {"shuffle_seq": False}},
    } | extra  # fmt: skip


class FullDisk:
    """A full disk for the writes of `mnist1d.atomic.atomic_open` (results.json, figures, checkpoints), as
    the kernel makes one fail: a few bytes are written, then `write` raises OSError(ENOSPC).

    Writes to a file named in `names` (any file, if None) fail once `room` of them have succeeded; set
    `full = False` for the space to come back. `install` puts it in place of `atomic_open` for a test.
    """

    def __init__(self, names: set[str] | None = None, room: int = 0) -> None:
        self.names, self.room, self.full = names, room, True
        self.failed: list[Path] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FullDisk:
        import mnist1d.atomic
        import mnist1d.training.checkpoint_io

        real = mnist1d.atomic.atomic_open

        @contextlib.contextmanager
        def atomic_open(path: Path, mode: str = "wb") -> Iterator[IO[Any]]:
            with real(path, mode) as file:
                if not (self.full and (self.names is None or path.name in self.names)):
                    yield file
                elif self.room > 0:
                    self.room -= 1
                    yield file
                else:
                    self.failed.append(path)
                    yield _NoSpaceAfter(file, 16)

        for module in (mnist1d.atomic, mnist1d.training.checkpoint_io):
            monkeypatch.setattr(module, "atomic_open", atomic_open)
        return self


class _NoSpaceAfter:
    """A file that takes `room` bytes, then fails every write with ENOSPC."""

    def __init__(self, file: IO[Any], room: int) -> None:
        self._file, self._room = file, room

    def write(self, data: Any) -> int:
        taken = self._file.write(data[: self._room])
        self._room -= taken
        if taken < len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return taken

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


@contextlib.contextmanager
def lock_held_elsewhere(directory: Path, name: str = ".lock") -> Iterator[subprocess.Popen]:
    """Another process that holds `directory` (lock file `name`) as a command would, until the block ends;
    it is then killed with SIGKILL, as the OOM killer would, leaving its record behind."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(directory), name], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "held\n"
        yield holder
    finally:
        holder.kill()
        holder.wait()


HOLD = """
import sys, time
from pathlib import Path
from mnist1d.locks import DirectoryLock
DirectoryLock(Path(sys.argv[1]), sys.argv[2])
print("held", flush=True)
time.sleep(600)
"""
