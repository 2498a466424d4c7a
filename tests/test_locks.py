"""One writer per directory: a second is refused naming the first; a killed holder's is taken over."""

from __future__ import annotations

import json
import logging
import os

import pytest

from mnist1d.locks import DirectoryInUse, DirectoryLock
from tests.helpers import lock_held_elsewhere


def test_a_second_writer_is_refused_naming_the_first(tmp_path):
    first = DirectoryLock(tmp_path)
    named = rf"{tmp_path} is in use by pid {os.getpid()} on \S+ \(.+, since "
    with pytest.raises(DirectoryInUse, match=named):
        DirectoryLock(tmp_path)
    assert json.loads((tmp_path / ".lock.json").read_text())["pid"] == os.getpid()
    first.release()
    assert not (tmp_path / ".lock.json").exists()
    with DirectoryLock(tmp_path), DirectoryLock(tmp_path, ".sweep.lock"):  # free again; another lock of it
        pass


def test_the_directory_of_a_killed_holder_is_taken_over(tmp_path, caplog):
    with lock_held_elsewhere(tmp_path) as holder, pytest.raises(DirectoryInUse, match=f"pid {holder.pid} "):
        DirectoryLock(tmp_path)
    # SIGKILLed: its record is left, its lock is not
    assert json.loads((tmp_path / ".lock.json").read_text())["pid"] == holder.pid
    with caplog.at_level(logging.WARNING), DirectoryLock(tmp_path):
        assert json.loads((tmp_path / ".lock.json").read_text())["pid"] == os.getpid()
    assert f"taking over from pid {holder.pid} " in caplog.text
