"""Every use of Lightning internals, in one place, each checked against the installed Lightning.

The chunked training step and the run's callbacks need three things that Lightning has no public API for.
Each function below says what it stands in for and why. `check` verifies them when the Trainer is built,
and `sigterm_handler` when fit starts, so that a Lightning release where one of them moved fails before any
training with a message naming it, instead of miscounting steps or ignoring Ctrl-C.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

NVML_CUDA_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"
STEP_PROGRESS = "trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress"
CHECKPOINT_INTERVALS = ("_every_n_train_steps", "_train_time_interval")


class LightningInternalsError(RuntimeError):
    """The installed Lightning keeps an internal this project relies on elsewhere, or not at all."""

    def __init__(self, internal: str) -> None:
        super().__init__(
            f"pytorch-lightning {pl.__version__} has no {internal}, which mnist1d relies on (see "
            "mnist1d/training/engine/lightning_internals.py): install the pytorch-lightning release that "
            "pyproject.toml allows, or port that module to this release"
        )


def optimizer_step_counter(trainer: pl.Trainer) -> Callable[[], None]:
    """A function that advances `trainer.global_step` by one optimizer step.

    Stands in for `LightningOptimizer.step`, which advances this counter under manual optimization. The
    chunked `training_step` calls the torch optimizer itself, because the wrapper dispatches three callback
    hooks per step that no callback here uses, so it must count the step as the wrapper would.
    """
    progress = _step_progress(trainer)

    def count() -> None:
        progress.increment_ready()
        progress.increment_completed()

    return count


def saves_on_train_steps(checkpoint: ModelCheckpoint) -> bool:
    """Whether `checkpoint` saves every n training steps or every time interval, not only at evaluations.

    Stands in for the `every_n_train_steps` / `train_time_interval` arguments, which ModelCheckpoint keeps
    only as private attributes. `EvalCheckpoint` asks, to skip ModelCheckpoint's per-step hook otherwise.
    """
    return bool(checkpoint._every_n_train_steps or checkpoint._train_time_interval)


def sigterm_handler() -> Callable[[int, Any], None]:
    """Lightning's SIGTERM handler, which `Trainer.fit` installs before the `on_train_start` hook.

    Lightning has no public call for "stop gracefully after this step"; its SIGTERM handler does exactly that
    (the fit loop raises `SIGTERMException` at the end of the step). Ctrl-C is forwarded to it, so both
    signals save the same checkpoint and stop the same way. Call this from `on_train_start`.
    """
    handler = signal.getsignal(signal.SIGTERM)
    if not callable(handler):
        raise LightningInternalsError("SIGTERM handler installed by Trainer.fit before on_train_start")
    return handler


def cheap_cuda_check(trainer: pl.Trainer) -> None:
    """Undo Lightning's `PYTORCH_NVML_BASED_CUDA_CHECK=1` on a machine without a CUDA device.

    Lightning sets it when imported, so that `torch.cuda.is_available()` asks NVML instead of initialising
    CUDA, which a forked process could then not use. torch caches that answer only once CUDA is initialised,
    which never happens without a GPU: with a CUDA build of torch every call loads the NVML library anew, and
    torch's Adam asks at every step (its graph-capture check). Without a CUDA device no fork can lose one, so
    torch's own cached answer serves instead (README, Performance: a CUDA build of torch on a CPU).
    """
    if trainer.strategy.root_device.type != "cuda" and torch.cuda.device_count() == 0:
        os.environ.pop(NVML_CUDA_CHECK, None)


def check(trainer: pl.Trainer) -> None:
    """Raise `LightningInternalsError` naming the first internal this Lightning release lacks."""
    _step_progress(trainer)
    for callback in trainer.checkpoint_callbacks:
        for name in CHECKPOINT_INTERVALS:
            if isinstance(callback, ModelCheckpoint) and not hasattr(callback, name):
                raise LightningInternalsError(f"ModelCheckpoint.{name}")


def _step_progress(trainer: pl.Trainer) -> Any:
    try:
        progress = trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress
        progress.increment_ready, progress.increment_completed  # noqa: B018 - must exist
    except AttributeError as error:
        raise LightningInternalsError(STEP_PROGRESS) from error
    return progress
