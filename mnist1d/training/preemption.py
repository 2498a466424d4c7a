"""A run as a SLURM job: who saves and who requeues when SLURM stops it (README, Sweeps, SLURM).

Four parties could react to SLURM's signals; each has one part:

- SLURM sends the signals: SIGTERM when it preempts, requeues (`scontrol requeue`), cancels or times out a
  job (SIGKILL follows after `KillWait`), and submitit's `--signal=USR2@<signal_delay_s>` before the time
  limit. A preempted or requeued job is requeued by SLURM itself.
- submitit (sweep.py's `launcher=submitit_slurm`) owns the requeue at the time limit: its USR2 handler
  counts the job's time-outs against `max_num_timeout`, re-submits the same job and calls
  `scontrol requeue`. Its SIGTERM handler only logs.
- Lightning's `SLURMEnvironment` stays the cluster environment, with its auto-requeue off
  (`cluster_plugins`): it would otherwise save a second ("hpc") checkpoint and requeue a second time on
  SIGUSR1.
- `InterruptCheckpoint` (callbacks.py) owns the save: on SIGTERM, and on the time-limit signal, it
  finishes the current chunk of steps and saves `last.ckpt`; for the time-limit signal it then hands over
  to submitit's handler (`requeue`). The requeued job runs with `skip_completed=true` and resumes from that
  checkpoint.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from pytorch_lightning.plugins.environments import SLURMEnvironment

Handler = Callable[[int, FrameType | None], Any]


def cluster_plugins() -> list[SLURMEnvironment]:
    """The Trainer's cluster environment under SLURM: Lightning's own, without auto-requeue."""
    return [SLURMEnvironment(auto_requeue=False)] if SLURMEnvironment.detect() else []


def time_limit_signal() -> signal.Signals | None:
    """The signal SLURM sends before the time limit of a submitit job (USR2 unless the user set
    `SUBMITIT_PREEMPT_SIGNAL`), or None when this process is not a submitit job on SLURM."""
    if os.environ.get("SUBMITIT_EXECUTOR") != "slurm":
        return None
    return signal.Signals[f"SIG{os.environ.get('SUBMITIT_PREEMPT_SIGNAL', 'USR2')}"]


def take_time_limit_signal(handler: Handler) -> tuple[signal.Signals, Handler] | None:
    """Install `handler` for the time-limit signal and return the signal and the handler it replaces
    (submitit's requeue), when this process is a submitit job on SLURM; else change nothing, None."""
    signum = time_limit_signal()
    requeue = signal.getsignal(signum) if signum is not None else None
    if not callable(requeue):
        return None
    signal.signal(signum, handler)
    return signum, requeue


def requeue(handler: Handler, signum: int) -> str:
    """Run submitit's time-limit handler once the checkpoint is saved; returns what it did.

    It re-submits the job and calls `scontrol requeue`, then exits with `sys.exit`; or it refuses, with
    an error, when the job has timed out `max_num_timeout` times. Either way the run then stops as
    interrupted and writes its results.json.
    """
    try:
        handler(signum, None)
    except SystemExit:
        return "requeued by submitit"
    except Exception as error:  # submitit's UncompletedJobError: "timed-out too many times"
        return f"not requeued: {error}"
    return "not requeued"
