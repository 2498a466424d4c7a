"""Errors a user can act on: a refused config, a write that failed on a full disk; printed the way Hydra
prints its own.

A refused config is not a bug, so its command prints the message (which names the field and what it must be)
and exits 1, as Hydra does for an unknown key or group; `HYDRA_FULL_ERROR=1` shows the whole traceback, as
for Hydra's errors. Any other exception keeps its traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from hydra.types import RunMode
from omegaconf.errors import OmegaConfBaseException

FULL_ERROR_HINT = "Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace."
# A write that fails with one of these stops for lack of space, not because of the program.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})  # EDQUOT: a quota


class JobError(CompactHydraException):
    """An expected error of one job of a multirun. Hydra keeps it, runs the other jobs, and at the end
    prints its message without a traceback (it does so for every `CompactHydraException`)."""


class ConfigError(ValueError):
    """A config that cannot run; the message lists every problem found (see mnist1d/rules.py)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid training config:\n  - " + "\n  - ".join(problems))


class DiskFullError(OSError):
    """A write failed for lack of space (ENOSPC, or a quota); the file at `path` is as it was before."""

    def __init__(self, path: str | Path, advice: str = "") -> None:
        message = f"no space left on device to write {path} (the file there, if any, is unchanged)"
        super().__init__(errno.ENOSPC, f"{message}: {advice}" if advice else message)
        self.path, self.advice = str(path), advice

    def __str__(self) -> str:
        return self.strerror

    def __reduce__(self) -> tuple[type[DiskFullError], tuple[str, str]]:
        # OSError pickles (errno, strerror); launchers that run jobs in other processes pickle errors back.
        return type(self), (self.path, self.advice)


def disk_full(error: BaseException, path: str | Path, advice: str = "") -> DiskFullError | None:
    """`error` as a `DiskFullError` when it is a write that failed for lack of space (naming the file the
    error names, else `path`), or None for any other error."""
    if isinstance(error, DiskFullError):
        return error
    if isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS:
        return DiskFullError(error.filename or path, advice)
    return None


@contextlib.contextmanager
def disk_full_names(path: str | Path, advice: str = "") -> Iterator[None]:
    """Turn a write's ENOSPC / EDQUOT into a `DiskFullError` that names `path` (the OS error names none)."""
    try:
        yield
    except OSError as error:
        full = disk_full(error, path, advice)
        if full is None or full is error:
            raise
        raise full from error


def full_error_requested() -> bool:
    """Hydra's own switch (`HYDRA_FULL_ERROR=1`) for complete tracebacks."""
    return os.environ.get("HYDRA_FULL_ERROR") == "1"


def in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


@contextlib.contextmanager
def reported_as_message(*expected: type[Exception]) -> Iterator[None]:
    """Report an `expected` error (a refused config, a full disk) as a message and exit status 1.

    In a single run the message is printed at once and the process exits 1. In a multirun a job must not
    exit (that would end the other jobs too), so the error goes back to Hydra as a `JobError`: the remaining
    jobs run, and Hydra prints the message at the end and exits 1. With `HYDRA_FULL_ERROR=1` the error is
    raised unchanged, so its traceback is printed.
    """
    try:
        yield
    except expected as error:
        if full_error_requested():
            raise
        if in_multirun():
            raise JobError(str(error)) from error
        cause = f"\n{error.__cause__}" if isinstance(error.__cause__, OmegaConfBaseException) else ""
        sys.stderr.write(f"{error}{cause}\n\n{FULL_ERROR_HINT}\n")  # as Hydra's run_and_report does
        sys.stderr.flush()
        raise SystemExit(1) from None
