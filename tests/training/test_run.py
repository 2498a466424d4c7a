"""What train.py runs per job: a continued sweep job resumes an interrupted run."""

from __future__ import annotations

import signal

import pytest

from mnist1d.training.fit import train
from mnist1d.training.run import run_job
from tests.helpers import RESUMABLE, read_results, signal_at


def test_continued_sweep_job_resumes_an_interrupted_run_from_its_last_checkpoint(make_cfg, tmp_path):
    """What `python sweep.py resume=<dir>` (and a requeued SLURM job with skip_completed=true) does."""
    train(make_cfg(*RESUMABLE, run="full"))
    with pytest.raises(SystemExit):
        train(make_cfg(*RESUMABLE, *signal_at(15, signal.SIGTERM), run="part"))
    run_job(make_cfg(*RESUMABLE, "skip_completed=true", run="part"))
    full, resumed = read_results(tmp_path / "full"), read_results(tmp_path / "part")
    assert resumed["config"]["ckpt_path"] == str(tmp_path / "part" / "checkpoints" / "last.ckpt")
    assert resumed["status"] == "ok" and resumed["history"] == full["history"]
