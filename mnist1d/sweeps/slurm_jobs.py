"""A sweep on SLURM (`launcher=submitit_slurm`): job states from squeue, and no job submitted twice.

- submitit's driver polls `sacct`, which needs SLURM's accounting database (slurmdbd). Without one every
  poll fails and logs "Bypassing sacct error", and a job that ends without writing its result (killed,
  cancelled, its node lost) is never seen to end: the driver waits forever. `SqueuePolling` makes the
  driver ask `squeue`, which every cluster has: a job is done once squeue no longer lists it as pending
  or running (it shows finished jobs for `MinJobAge`, 300 s by default, with their final state).
- `wait_for_jobs`: submitit names a folder `<sweep dir>/.submitit/<SLURM job id>` after every job it
  submits. `sweep.py resume=` waits until none of them is still queued or running before it submits the
  sweep again, so a restarted driver never runs a job twice at once; the jobs that completed meanwhile
  are then skipped, the others resumed from their checkpoints.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig
from submitit.slurm.slurm import SlurmInfoWatcher, SlurmJob

log = logging.getLogger(__name__)
SUBMITIT_DIR = ".submitit"  # hydra-submitit-launcher's submitit_folder: ${hydra.sweep.dir}/.submitit/%j
JOB_ID = re.compile(r"\d+(_\d+)?")  # a job, or a task of a job array
ENDED = "ENDED"  # the state of a job squeue no longer lists
POLL_S = 5.0  # seconds between two squeue calls of `wait_for_jobs`
WATCH_DELAY_S = 60  # the longest time between two squeue calls of the multirun's driver (submitit: 600)
# What train.py needs to run a sweep's jobs on SLURM: squeue polling in the driver, and a resume (from the
# job's own checkpoint) whenever SLURM or submitit starts a job again after a requeue.
TRAIN_ARGUMENTS = [f"+hydra.callbacks.squeue._target_={__name__}.SqueuePolling", "skip_completed=true"]


# This user's jobs, a line `<job id>|<state>` per job or array task; by default only queued and running ones.
SQUEUE = ["squeue", "--me", "--noheader", "--array", "--format=%i|%T"]


class SqueueWatcher(SlurmInfoWatcher):
    """submitit's job watcher, reading squeue instead of sacct."""

    def _make_command(self) -> list[str] | None:
        if not self._registered - self._finished:
            return None
        return [*SQUEUE, "--states=all"]  # finished jobs too, for MinJobAge, with their final state

    def read_info(self, string: bytes | str) -> dict[str, dict[str, str]]:
        text = string.decode() if isinstance(string, bytes) else string
        listed = {job: {"JobID": job, "State": state} for job, state in map(parse_line, text.splitlines())}
        gone = {job: {"JobID": job, "State": ENDED} for job in self._registered if job not in listed}
        return listed | gone


def parse_line(line: str) -> tuple[str, str]:
    job, state = line.strip().split("|", 1)
    return job, state


class SqueuePolling(Callback):
    """A Hydra callback for the multirun of a SLURM sweep: its driver watches the jobs with squeue."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        SlurmJob.watcher = SqueueWatcher(delay_s=WATCH_DELAY_S)


def submitted_jobs(sweep_dir: Path) -> set[str]:
    """The SLURM job ids (array tasks as `<job>_<task>`) submitit has submitted for this sweep."""
    return {path.name for path in (sweep_dir / SUBMITIT_DIR).glob("*") if JOB_ID.fullmatch(path.name)}


def active_jobs(sweep_dir: Path) -> dict[str, str]:
    """The sweep's SLURM jobs that are queued or running (a requeued job is queued) and their states."""
    submitted = submitted_jobs(sweep_dir)
    if not submitted:
        return {}
    if shutil.which("squeue") is None:  # resumed where SLURM is not: nothing can be checked
        log.warning("squeue not found: not checking whether jobs of %s still run on SLURM", sweep_dir)
        return {}
    lines = subprocess.run(SQUEUE, check=True, capture_output=True, text=True).stdout.splitlines()
    return {job: state for job, state in sorted(map(parse_line, lines)) if job in submitted}


def has_result(sweep_dir: Path, job: str) -> bool:
    """Whether the job wrote its result (submitit's `<job>_<task>_result.pkl`): it is only ending."""
    return any((sweep_dir / SUBMITIT_DIR / job).glob(f"{job}_*_result.pkl"))


def wait_for_jobs(sweep_dir: Path) -> None:
    """Return once none of the sweep's SLURM jobs is queued or running."""
    reported: list[str] = []
    while True:
        try:
            jobs = active_jobs(sweep_dir)
        except subprocess.CalledProcessError as error:  # slurmctld busy or restarting: ask again
            log.warning("squeue failed (%s): trying again in %.0f s", error.stderr.strip(), POLL_S)
            time.sleep(POLL_S)
            continue
        if not jobs:
            return
        waiting = [job for job in jobs if not has_result(sweep_dir, job)]  # others: a moment, not a line
        if waiting and waiting != reported:
            log.info(
                "Waiting for %d job(s) of this sweep still queued or running on SLURM (%s); they are not"
                " submitted again (scancel them to stop waiting)",
                len(waiting),
                " ".join(waiting),
            )
            reported = waiting
        time.sleep(POLL_S)
