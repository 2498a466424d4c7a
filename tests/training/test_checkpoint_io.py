"""Every checkpoint is written atomically: whole at its path or not at all, also when the disk is full."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import IO, Any

import pytest
import torch

from mnist1d.errors import DiskFullError
from mnist1d.training.checkpoint_io import AtomicCheckpointIO
from mnist1d.training.fit import fit
from tests.helpers import RESUMABLE, FullDisk, build_run, signal_at

CHECKPOINT = {"global_step": 7, "state_dict": {"weight": torch.arange(1000.0)}}


def test_a_checkpoint_is_written_to_a_temporary_file_fsynced_then_renamed(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", Path(os.readlink(f"/proc/self/fd/{fd}")).name))
        real_fsync(fd)

    def replace(source: str, target: str) -> None:
        events.append(("rename", Path(source).name, Path(target).name))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    path = tmp_path / "checkpoints" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint(CHECKPOINT, path)
    (_, synced), (_, renamed, target) = events
    assert synced == renamed and renamed.startswith(".last.ckpt-") and target == "last.ckpt"
    loaded = torch.load(path, weights_only=True)
    assert loaded["global_step"] == 7 and torch.equal(loaded["state_dict"]["weight"], torch.arange(1000.0))
    assert os.listdir(path.parent) == ["last.ckpt"]


def test_a_write_stopped_half_way_never_reaches_the_checkpoint_path(tmp_path, monkeypatch):
    """What a kill in the middle of `torch.save` would leave: the previous checkpoint, whole."""
    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint(CHECKPOINT, path)
    before = path.read_bytes()

    def stopped(self: AtomicCheckpointIO, file: IO[bytes], data: memoryview) -> None:
        file.write(data[: len(data) // 2])
        assert path.read_bytes() == before  # half of the new one is written, but elsewhere
        raise KeyboardInterrupt

    monkeypatch.setattr(AtomicCheckpointIO, "write", stopped)
    with pytest.raises(KeyboardInterrupt):
        AtomicCheckpointIO().save_checkpoint({"global_step": 8, "state_dict": {}}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["last.ckpt"]


def test_a_full_disk_names_the_checkpoint_and_leaves_the_previous_one(tmp_path, monkeypatch):
    path = tmp_path / "best.ckpt"
    AtomicCheckpointIO().save_checkpoint(CHECKPOINT, path)
    before = path.read_bytes()
    FullDisk().install(monkeypatch)
    with pytest.raises(DiskFullError) as full:
        AtomicCheckpointIO().save_checkpoint({"global_step": 8, "state_dict": {}}, path)
    assert str(full.value).startswith(f"no space left on device to write {path} (the file there, if any, ")
    assert str(full.value).endswith(": free some space, then run it again")  # no last.ckpt to resume from
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["best.ckpt"]


def test_every_checkpoint_of_a_run_is_written_by_the_atomic_plugin(make_cfg, tmp_path, monkeypatch):
    """last.ckpt and best.ckpt at each evaluation, and the interrupt checkpoint of a SIGTERM."""
    trainer = build_run(make_cfg(*RESUMABLE)).trainer
    assert type(trainer.strategy.checkpoint_io) is AtomicCheckpointIO
    saved = []
    real_save = AtomicCheckpointIO.save_checkpoint

    def save_checkpoint(
        self: AtomicCheckpointIO, checkpoint: dict[str, Any], path: Path, storage_options: None = None
    ) -> None:
        saved.append((Path(path).name, checkpoint["global_step"]))
        real_save(self, checkpoint, path, storage_options)

    monkeypatch.setattr(AtomicCheckpointIO, "save_checkpoint", save_checkpoint)
    with pytest.raises(SystemExit):
        fit(make_cfg(*RESUMABLE, *signal_at(15, signal.SIGTERM)))
    assert saved == [("best.ckpt", 10), ("last.ckpt", 10), ("last.ckpt", 15)]  # 15: the interrupt's
    assert sorted(os.listdir(tmp_path / "run" / "checkpoints")) == ["best.ckpt", "last.ckpt"]
