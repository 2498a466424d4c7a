"""Checkpoints written whole or not at all, so a kill or a full disk never leaves a torn `last.ckpt`."""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO, Any

import torch
from lightning_fabric.utilities.types import _PATH
from pytorch_lightning.plugins.io import TorchCheckpointIO

from mnist1d.atomic import atomic_open
from mnist1d.errors import disk_full_names

CHECKPOINTS_DIR, LAST = "checkpoints", "last.ckpt"  # a run's checkpoints: <run dir>/checkpoints/last.ckpt


def disk_full_advice(checkpoint_dir: Path) -> str:
    """What to do when a full disk stopped a run whose checkpoints are in `checkpoint_dir`."""
    last = checkpoint_dir / LAST
    if not last.exists():
        return "free some space, then run it again"
    return f"free some space, then resume with ckpt_path={last} (a sweep: python sweep.py resume=<sweep dir>)"


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's `TorchCheckpointIO`, but every local checkpoint (last, best, interrupt) goes through
    `atomic_open`: serialised in memory as Lightning does, written to a temporary file beside its path,
    flushed, fsynced and renamed over the path.

    Lightning's own local save writes inside an fsspec transaction, whose temporary file lives in the
    system's temporary directory (on another filesystem the final move is a copy, which a kill can tear)
    and is never fsynced (a power loss can leave a renamed but empty file). A full disk raises a
    `DiskFullError` naming the checkpoint; the previous file at that path stays as it was. Loading and
    removing are Lightning's.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None or "://" in str(path):  # remote storage: Lightning's fsspec path
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        path = Path(path)
        with disk_full_names(path, disk_full_advice(path.parent)), atomic_open(path, "wb") as file:
            self.write(file, buffer.getbuffer())

    def write(self, file: IO[bytes], data: memoryview) -> None:
        """Write the serialised checkpoint into the temporary file (a seam: tests stop or fail a process
        here, in the middle of a write)."""
        file.write(data)
