"""Checkpoints written whole or not at all, so a kill or a full disk never leaves a torn `last.ckpt`; during
training they are written by a background thread, so an evaluation does not wait for the disk."""

from __future__ import annotations

import copy
import io
import logging
import sys
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

from mnist1d.atomic import atomic_open
from mnist1d.errors import disk_full_names

log = logging.getLogger(__name__)
CHECKPOINTS_DIR, LAST = "checkpoints", "last.ckpt"  # a run's checkpoints: <run dir>/checkpoints/last.ckpt


def disk_full_advice(checkpoint_dir: Path) -> str:
    """What to do when a full disk stopped a run whose checkpoints are in `checkpoint_dir`."""
    last = checkpoint_dir / LAST
    if not last.exists():
        return "free some space, then run it again"
    return f"free some space, then resume with ckpt_path={last} (a sweep: python sweep.py resume=<sweep dir>)"


IMMUTABLE = (str, bytes, int, float, bool, type(None), torch.dtype, torch.device)


def snapshot(value: Any) -> Any:
    """A copy of a checkpoint that training can no longer change: tensors cloned, dicts, lists and tuples
    copied, immutable values shared, anything else deep-copied (a deep copy, at a fraction of its cost)."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, IMMUTABLE):
        return value
    if type(value) in (dict, OrderedDict):
        copied = type(value)((key, snapshot(item)) for key, item in value.items())
        if hasattr(value, "_metadata"):  # a state_dict's module versions
            copied._metadata = copy.deepcopy(value._metadata)
        return copied
    if type(value) in (list, tuple):
        return type(value)(snapshot(item) for item in value)
    return copy.deepcopy(value)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's `TorchCheckpointIO`, but every local checkpoint (last, best, interrupt) goes through
    `atomic_open`: serialised in memory as Lightning does, written to a temporary file beside its path,
    flushed, fsynced and renamed over the path.

    Lightning's own local save writes inside an fsspec transaction, whose temporary file lives in the
    system's temporary directory (on another filesystem the final move is a copy, which a kill can tear)
    and is never fsynced (a power loss can leave a renamed but empty file). A full disk raises a
    `DiskFullError` naming the checkpoint; the previous file at that path stays as it was. Loading and
    removing are Lightning's.

    With `background=True` (what training uses) a save copies the checkpoint (`snapshot`) and returns; one
    writer thread serialises and writes the copies in order, so that the disk's fsync and rename (several
    ms each, as long as dozens of small steps) overlap with training. Files stay atomic. A failed write is
    raised by the next save, `wait` or `teardown` (the end of fit waits for every write: see
    `wait_for_writes`); removals and loads wait their turn behind pending writes.
    """

    def __init__(self, background: bool = False) -> None:
        super().__init__()
        self.background = background
        self._writer: ThreadPoolExecutor | None = None
        self._pending: list[Future[None]] = []

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None or "://" in str(path):  # remote storage: Lightning's fsspec path
            self.wait()
            super().save_checkpoint(checkpoint, path, storage_options)
        elif self.background:
            self._raise_failed()
            self._submit(self._save, snapshot(checkpoint), Path(path))
        else:
            self._save(checkpoint, Path(path))

    def _save(self, checkpoint: dict[str, Any], path: Path) -> None:
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        with disk_full_names(path, disk_full_advice(path.parent)), atomic_open(path, "wb") as file:
            self.write(file, buffer.getbuffer())

    def write(self, file: IO[bytes], data: memoryview) -> None:
        """Write the serialised checkpoint into the temporary file (a seam: tests stop or fail a process
        here, in the middle of a write)."""
        file.write(data)

    def remove_checkpoint(self, path: str | Path) -> None:
        if self.background:
            self._submit(super().remove_checkpoint, path)
        else:
            super().remove_checkpoint(path)

    def load_checkpoint(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.wait()
        return super().load_checkpoint(*args, **kwargs)

    def _submit(self, work: Any, *args: Any) -> None:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint-writer")
        self._pending.append(self._writer.submit(work, *args))

    def _raise_failed(self) -> None:
        """Raise the error of a finished write that failed, if any (the others are forgotten)."""
        if any(future.done() and future.exception() for future in self._pending):
            self.wait()
        self._pending = [future for future in self._pending if not future.done()]

    def wait(self) -> None:
        """Block until every pending write is on disk; raise the first failure among them."""
        pending, self._pending = self._pending, []
        errors = [future.exception() for future in pending]
        first = next((error for error in errors if error is not None), None)
        if first is not None:
            raise first

    def teardown(self) -> None:
        """Wait for every write and stop the writer. While another error is being handled (a run that
        failed or was interrupted) a failed write is logged instead of replacing that error."""
        handling = sys.exc_info()[1]  # Lightning tears down inside its `except` when fit fails
        try:
            self.wait()
        except Exception as error:
            if handling is None:
                raise
            log.error("a checkpoint could not be written: %s", error)
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True)
                self._writer = None


def wait_for_writes(trainer: pl.Trainer) -> None:
    """Block until the trainer's checkpoints are on disk (raising a failed write's error)."""
    checkpoint_io = trainer.strategy.checkpoint_io
    if isinstance(checkpoint_io, AtomicCheckpointIO):
        checkpoint_io.wait()
