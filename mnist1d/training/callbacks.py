"""Callbacks every run uses: what results.json reports, exact interruption and resume, divergence."""

from __future__ import annotations

import functools
import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.utilities.exceptions import SIGTERMException

from mnist1d.errors import DiskFullError
from mnist1d.training import preemption
from mnist1d.training.checkpoint_io import wait_for_writes
from mnist1d.training.engine import lightning_internals

log = logging.getLogger(__name__)


class EvalCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint without its per-step cost when it only saves at evaluations: its
    `on_train_batch_end` is skipped unless it saves every n steps or time interval, and its `state_key` is
    computed once instead of at every hook call."""

    @functools.cached_property
    def state_key(self) -> str:
        return super().state_key

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        if lightning_internals.saves_on_train_steps(self):
            super().on_train_batch_end(trainer, *args, **kwargs)


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on an accelerator, so that a clock read after it has seen that work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


class RunRecorder(pl.Callback):
    """Records (and prints) every evaluation with its step, and the training throughput of this process:
    what the run's record (results.json) reports.

    The evaluation history is saved in checkpoints, so a resumed run reports its whole history. Every run
    has one (the training code adds it), whatever the callbacks config says.
    """

    def __init__(self, total_steps: int) -> None:
        self.total_steps = total_steps
        self.history: list[dict[str, float]] = []
        self.fit_seconds = 0.0
        self.steps_this_process = 0
        self._first_step = 0
        # Wall-clock time of the first training step, so start-up can be timed from outside the process.
        self.fit_started_at: float | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        synchronize(pl_module.device)
        self.fit_started_at = time.time()
        self._first_step = trainer.global_step

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        wait_for_writes(trainer)  # the last checkpoints are part of training, and on disk before results.json
        synchronize(pl_module.device)  # the time of the steps, not of their launches
        self.fit_seconds = time.time() - self.fit_started_at
        self.steps_this_process = trainer.global_step - self._first_step

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        prefix = f"{pl_module.eval_split}/"
        metrics = {name: float(v) for name, v in trainer.callback_metrics.items() if name.startswith(prefix)}
        if not metrics:  # a stack's: its members' are their own (MemberRuns)
            return
        self.history.append({"step": trainer.global_step} | metrics)
        summary = "  ".join(f"{name} {value:.4f}" for name, value in metrics.items())
        log.info("step %d/%d  %s", trainer.global_step, self.total_steps, summary)

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict["history"])


class EvaluateLastStep(pl.Callback):
    """Makes the last optimizer step an evaluation step, inside `fit`, so that `last.ckpt` holds the final
    weights and the final evaluation competes for `best.ckpt`.

    Lightning evaluates every `val_check_interval` training_step calls and, at any call, when training is
    asked to stop (`trainer.should_stop`, its public switch): so the run asks to stop at its last step.
    """

    def __init__(self, total_steps: int) -> None:
        self.total_steps = total_steps

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_step >= self.total_steps:
            trainer.should_stop = True


class InterruptCheckpoint(pl.Callback):
    """Makes a run stoppable and exactly resumable: Ctrl-C or SIGTERM (SLURM preemption) finish the current
    step, save `last.ckpt` and stop; resuming from it gives the same numbers as an uninterrupted run.

    Lightning already turns SIGTERM into `SIGTERMException` at the end of the current step (after its
    callbacks and any evaluation, so the saved state is consistent); Ctrl-C is routed to that same handler
    (a second Ctrl-C stops at once), and so is SLURM's signal before the time limit of a submitit job,
    whose own handler (the requeue) runs once the checkpoint is saved (mnist1d/training/preemption.py says who
    does what on SLURM). Checkpoints also carry the torch RNG states, so dropout after a resume draws the
    masks the uninterrupted run would have drawn.
    """

    def __init__(self, dirpath: str | Path, filename: str = "last") -> None:
        self.ckpt_path = Path(dirpath) / f"{filename}.ckpt"
        self.signal_name: str | None = None
        self.save_error: DiskFullError | None = None
        self.requeued: str | None = None  # what submitit did after a time-limit signal
        self._stop_after_step: Callable[[int, Any], None] | None = None
        # SLURM's signal before the time limit and the handler it had (submitit's), for a submitit job
        self._time_limit: tuple[signal.Signals, preemption.Handler] | None = None
        self._time_limit_received = False

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Signal handlers belong to the main thread; Lightning restores SIGINT (and the time-limit signal's
        # handler, submitit's) at teardown.
        if threading.current_thread() is threading.main_thread():
            self._stop_after_step = lightning_internals.sigterm_handler()
            signal.signal(signal.SIGINT, self._on_sigint)
            self._time_limit = preemption.take_time_limit_signal(self._on_time_limit)

    def _on_time_limit(self, signum: int, frame: FrameType | None) -> None:
        log.warning(
            "%s: SLURM's time limit is near: finishing this step, saving a checkpoint, then requeueing",
            signal.Signals(signum).name,
        )
        self.signal_name, self._time_limit_received = signal.Signals(signum).name, True
        self._stop_after_step(signum, frame)

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        log.warning(
            "Ctrl-C: finishing this step and saving a checkpoint (press Ctrl-C again to stop at once)"
        )
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self.signal_name = signal.Signals(signum).name
        self._stop_after_step(signum, frame)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if isinstance(exception, SIGTERMException):
            self.signal_name = self.signal_name or signal.SIGTERM.name
            try:  # written atomically (AtomicCheckpointIO): a failed save leaves the previous last.ckpt
                trainer.save_checkpoint(self.ckpt_path, weights_only=False)
                wait_for_writes(trainer)
            except DiskFullError as error:  # still an interruption, resumable from the earlier checkpoint
                self.save_error = error
                log.error("%s at step %d: %s", self.signal_name, trainer.global_step, error)
            else:
                log.warning("%s at step %d: saved %s", self.signal_name, trainer.global_step, self.ckpt_path)
            if self._time_limit_received:
                self.requeued = preemption.requeue(self._time_limit[1], self._time_limit[0])
                log.warning("%s", self.requeued)

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process stopped by a signal: 128 + its number (SIGTERM: 143)."""
        return 128 + signal.Signals[self.signal_name or signal.SIGINT.name]

    def describe(self, trainer: pl.Trainer) -> str:
        """What results.json says about the interruption: where, and how to go on."""
        signal_name = self.signal_name or "KeyboardInterrupt"
        where = f"{signal_name} at step {trainer.global_step}"
        if self.requeued:
            where = f"{where} ({self.requeued})"
        if self.save_error is not None:  # its message says how to go on
            return f"{where}, but its checkpoint could not be saved: {self.save_error}"
        if not self.ckpt_path.exists():
            return f"{where} (no checkpoint saved)"
        return f"{where}; resume with ckpt_path={self.ckpt_path}"

    def state_dict(self) -> dict[str, Any]:
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []
        return {"torch_rng": torch.get_rng_state(), "cuda_rng": cuda}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        torch.set_rng_state(state_dict["torch_rng"])
        if state_dict["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda_rng"])


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite: the run diverged."""

    @classmethod
    def at(cls, step: int) -> NonFiniteLossError:
        return cls(
            f"training loss is not finite (NaN or inf) at step {step}: the run diverged "
            "(try a lower optimizer.lr or a scheduler)"
        )


class DivergenceGuard(pl.Callback):
    """Stops a diverging run with `NonFiniteLossError`, naming the first step whose loss was not finite.

    `training_step` returns the losses of its chunk of steps (one column per member for a stack of runs).
    On the CPU they are checked at once (reading them costs about a microsecond). On an accelerator a read
    would synchronise host and device, so their finiteness flags stay on the device, read every
    `check_every` steps (default: `log_every_n_steps` training_step calls, when Lightning synchronises to log
    anyway); the error still names the exact step. What a non-finite loss does is `diverged`'s to say.
    """

    def __init__(self, check_every: int | None = None) -> None:
        self.check_every = check_every
        self._pending: list[torch.Tensor] = []
        self._first_step = 0

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        losses = (outputs["loss"] if isinstance(outputs, dict) else outputs).detach()
        losses = losses.reshape(-1, 1) if losses.dim() < 2 else losses  # (steps, runs)
        if not self._pending:
            self._first_step = trainer.global_step - len(losses) + 1
        self._pending.append(torch.isfinite(losses))
        pending_steps = trainer.global_step - self._first_step + 1
        check_every = self.check_every or max(trainer.log_every_n_steps * len(losses), 1)
        on_host = losses.device.type == "cpu" and self.check_every is None
        if on_host or pending_steps >= check_every or trainer.global_step >= trainer.max_steps:
            bad, self._pending = ~torch.cat(self._pending), []
            for run in bad.any(0).nonzero().flatten().tolist():
                self.diverged(trainer, pl_module, run, self._first_step + int(bad[:, run].int().argmax()))

    def diverged(self, trainer: pl.Trainer, pl_module: pl.LightningModule, run: int, step: int) -> None:
        """Run `run`'s loss was first not finite at optimizer step `step`: the run fails."""
        raise NonFiniteLossError.at(step)
