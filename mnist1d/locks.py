"""One writer per directory: a run directory has one process writing it, a sweep directory one driver.

`DirectoryLock` holds an exclusive lock on a file of the directory (`filelock`: an flock, which the kernel
releases when its holder ends, even killed) and records the holder beside it (pid, host, command, since),
so that a second writer is refused with that record. A holder that was killed (SIGKILL, a lost node)
leaves its record without the lock behind it: the next writer takes the directory over and says so.

- `.lock`: the process that runs jobs there, a run (`train.py`, `eval.py`, an app) in its run directory or
  a multirun (`train.py -m`) in its sweep directory, held by `DirectoryLocks` (a Hydra callback) from
  before Hydra writes there until the run or multirun ends;
- `.sweep.lock`: `sweep.py` in the sweep directory it starts, resumes or reports, for its whole life, so
  that a second driver stops before it touches anything, and one whose killed predecessor left its
  multirun running is refused by that multirun's `.lock`.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from hydra.errors import CompactHydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from mnist1d.atomic import write_json

log = logging.getLogger(__name__)
RUN_LOCK, SWEEP_LOCK = ".lock", ".sweep.lock"


class DirectoryInUse(CompactHydraException):
    """Another process writes this directory now; printed as a message, like Hydra's own errors."""


def describe(holder: dict[str, Any]) -> str:
    pid, host, command, since = (holder.get(key) for key in ("pid", "host", "command", "since"))
    return f"pid {pid} on {host} ({command}, since {since})"


class DirectoryLock:
    """Holds `directory` (its lock file `name`) for this process until `release`, or until the process
    ends; raises `DirectoryInUse`, naming the holder, when another process holds it."""

    def __init__(self, directory: Path, name: str = RUN_LOCK) -> None:
        self.directory = directory.absolute()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.record = self.directory / f"{name}.json"
        self._lock = FileLock(self.directory / name)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            holder = self.holder()
            raise DirectoryInUse(
                f"{self.directory} is in use by {describe(holder) if holder else 'another process'}: wait "
                "until it ends, or stop it (the directory of a killed process is taken over)"
            ) from None
        if stale := self.holder():
            log.warning(
                "%s: taking over from %s, which ended without releasing it", directory, describe(stale)
            )
        command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "python"
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "command": command}
        write_json(self.record, holder | {"since": f"{datetime.now():%Y-%m-%d %H:%M:%S}"})
        _held.add(self)

    def holder(self) -> dict[str, Any] | None:
        """Who holds the lock (or held it, if it was killed), or None."""
        try:
            holder = json.loads(self.record.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return holder if isinstance(holder, dict) else None

    def release(self) -> None:
        if self in _held:
            _held.discard(self)
            self.record.unlink(missing_ok=True)
            self._lock.release()

    def __enter__(self) -> DirectoryLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


_held: set[DirectoryLock] = set()
# A run stopped by Ctrl-C or SIGTERM ends with SystemExit, past Hydra's callbacks: its record goes too, so
# that the next run in its directory (the resume) is not told about a killed holder.
atexit.register(lambda: [lock.release() for lock in list(_held)])


class DirectoryLocks(Callback):
    """The Hydra callback of every command (conf/train/hydra/default.yaml): a run holds its run directory,
    a multirun its sweep directory. Hydra turns a callback's exceptions into warnings, so a refusal prints
    its message and exits 1 itself, before Hydra writes anything there. (Stateless: launchers pickle it to
    their jobs.)"""

    @staticmethod
    def _hold(directory: str) -> None:
        try:
            DirectoryLock(Path(directory))
        except DirectoryInUse as refused:
            sys.stderr.write(f"{refused}\n")
            raise SystemExit(1) from None
        except OSError:  # a directory that cannot be made: Hydra reports it when it tries too
            return

    @staticmethod
    def _release(directory: str) -> None:
        for lock in [lock for lock in _held if lock.directory == Path(directory).absolute()]:
            lock.release()

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._hold(config.hydra.run.dir)

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._release(config.hydra.run.dir)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._hold(config.hydra.sweep.dir)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._release(config.hydra.sweep.dir)
