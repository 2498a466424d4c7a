"""Sweeps on a real single-node SLURM cluster (tests/sweeps/conftest.py): the same results as the basic
launcher, and jobs that survive preemption, time limits, kills, a lost node and a restarted driver.

Every job is CPU-only with one torch thread, so each interrupted job must end with exactly the metrics of an
uninterrupted run. The cluster tests take minutes (SLURM's requeue delay, its 30-second time-limit checks),
so they are `slow`: `make test-slow`.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

pytest.importorskip("submitit", reason="the slurm extra is not installed (pip install -e '.[slurm]')")

from mnist1d.sweeps import launch
from mnist1d.sweeps.slurm_jobs import ENDED, SqueueWatcher, active_jobs, submitted_jobs
from mnist1d.sweeps.spec import SweepSpec
from mnist1d.training.fit import fit
from tests.helpers import ROOT, compose_run, read_results, slow_steps
from tests.sweeps.conftest import cluster_processes

# Our protocol, not the study's preset (experiment=beebe): jobs are compared with runs of train.py's defaults.
COMMON = ["logger=csv", "num_threads=1", "~experiment"]
ON_SLURM = ["launcher=submitit_slurm", "hydra.launcher.partition=debug"]
# Evaluated (and last.ckpt saved) every 200 steps; on SLURM with SLOW it trains at least 10 s (40 chunks).
JOB = ["model=mlp", "seed=0", "trainer.max_steps=2000", "eval_every=200"]
SLOW = slow_steps(0.25)
JOB_DIR = "0_mlp-2000steps-seed0"
METRICS = ("steps", "history", "final_acc", "best_acc", "final_test_acc", "per_class_acc", "confusion_matrix")
SUMMARY = ("job", "job_dir", "model", "steps", "seed", "status", "final_acc", "best_acc", "final_test_acc")


def uninterrupted(run_dir: Path, cache_dir: Path, job: list[str]) -> dict[str, Any]:
    """The results of `job` trained in one go, in this process."""
    fit(compose_run([*COMMON, *job], run_dir, cache_dir))
    return read_results(run_dir)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> dict[str, Any]:
    return uninterrupted(tmp_path_factory.mktemp("reference"), cache_dir, JOB)


def metrics(results: dict[str, Any]) -> dict[str, Any]:
    return {key: results[key] for key in ("status", *METRICS)}


@contextlib.contextmanager
def sweep_py(log: Path, *arguments: str) -> Iterator[subprocess.Popen]:
    """`python sweep.py <arguments>` in its own session (so that the driver can be killed whole), output to
    `log`; whatever is still running at the end is killed."""
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "sweep.py", *arguments],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def start_sweep(
    tmp_path: Path, sweep_dir: Path, cache_dir: Path, *arguments: str
) -> contextlib.AbstractContextManager[subprocess.Popen]:
    """`sweep.py` on SLURM into `sweep_dir` with the common overrides; output in <tmp_path>/<name>.log."""
    return sweep_py(
        tmp_path / f"{sweep_dir.name}.log",
        f"dir={sweep_dir}",
        f"paths.cache_dir={cache_dir}",
        *COMMON,
        *ON_SLURM,
        *arguments,
    )


def wait_until(condition: Callable[[], bool], process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 300
    while not condition():
        assert process.poll() is None, f"sweep.py ended (exit {process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} in 300 s"
        time.sleep(0.2)


def trained_to(job_dir: Path, step: int) -> bool:
    log = job_dir / "train.log"
    return log.exists() and f"step {step}/" in log.read_text()


def the_job(sweep_dir: Path) -> str:
    """The SLURM job id of a one-job sweep (submitit submits a single job, not an array)."""
    (job,) = submitted_jobs(sweep_dir)
    return job


def slurm(*command: str) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def restarts(job: str) -> int:
    """How often SLURM started the job again (requeued, preempted or after a node failure)."""
    return int(re.search(r"\bRestarts=(\d+)", slurm("scontrol", "show", "job", job))[1])


def job_process(job: str) -> int:
    """The pid of the job's python (task 0 of its step 0)."""
    rows = [line.split() for line in slurm("scontrol", "listpids", job).splitlines()[1:]]
    (pid,) = [int(row[0]) for row in rows if row[2:4] == ["0", "0"]]
    return pid


def job_log(sweep_dir: Path, job: str) -> str:
    """What the job's processes wrote (submitit's stdout and stderr files) over all its starts."""
    return "".join(path.read_text() for path in (sweep_dir / ".submitit" / job).glob("*_log.*"))


def summary(sweep_dir: Path) -> list[dict[str, str]]:
    with (sweep_dir / "summary.csv").open() as file:
        return list(csv.DictReader(file))


def test_squeue_watcher_ends_the_jobs_squeue_no_longer_lists():
    """A job that ended without its result (killed, its node lost) must count as done, or the driver waits
    for it forever."""
    watcher = SqueueWatcher(delay_s=60)
    for job in ("7_0", "7_1", "8"):
        watcher.register_job(job)
    info = watcher.read_info("7_1|RUNNING\n8|FAILED\n9|PENDING\n")
    assert {job: state["State"] for job, state in info.items()} == {
        "7_0": ENDED, "7_1": "RUNNING", "8": "FAILED", "9": "PENDING"
    }  # fmt: skip
    watcher._info_dict.update(info)
    assert watcher.is_done("7_0", mode="cache") and watcher.is_done("8", mode="cache")
    assert not watcher.is_done("7_1", mode="cache")


def test_slurm_jobs_always_resume_and_poll_squeue():
    spec = SweepSpec("study", {"seed": ["0", "1"]}, [], "submitit_slurm", False, "report")
    for resume in (False, True):
        arguments = spec.train_arguments(Path("sweep"), resume)
        assert arguments.count("skip_completed=true") == 1
        assert "+hydra.callbacks.squeue._target_=mnist1d.sweeps.slurm_jobs.SqueuePolling" in arguments


@pytest.mark.slow
def test_slurm_sweep_writes_the_summary_of_the_basic_launcher(slurm_cluster, tmp_path, cache_dir, capfd):
    grid = ["model=logistic,mlp", "seed=0,1", "trainer.max_steps=250", "eval_every=50"]
    basic, on_slurm = tmp_path / "basic", tmp_path / "slurm"
    assert launch.sweep([f"dir={basic}", f"paths.cache_dir={cache_dir}", *COMMON, *grid]) == 0
    capfd.readouterr()
    assert launch.sweep([f"dir={on_slurm}", f"paths.cache_dir={cache_dir}", *COMMON, *ON_SLURM, *grid]) == 0
    output = "".join(capfd.readouterr())
    assert "Bypassing sacct error" not in output and "Waiting for" not in output  # quiet polling
    jobs = sorted(job for job in submitted_jobs(on_slurm) if "_" in job)
    assert len(jobs) == 4  # the grid went through sbatch, as one job array
    rows, expected = summary(on_slurm), summary(basic)
    assert [{key: row[key] for key in SUMMARY} for row in rows] == [
        {key: row[key] for key in SUMMARY} for row in expected
    ]
    assert [row["status"] for row in rows] == ["ok"] * 4
    for job_dir in (row["job_dir"] for row in rows):
        assert metrics(read_results(on_slurm / job_dir)) == metrics(read_results(basic / job_dir))
    for job in jobs:
        assert "SLURM auto-requeueing enabled" not in job_log(on_slurm, job)  # Lightning's, off


@pytest.mark.slow
def test_preempted_job_resumes_from_its_checkpoint_with_identical_metrics(
    slurm_cluster, tmp_path, cache_dir, reference
):
    """`scontrol requeue` (what preemption with PreemptMode=REQUEUE does): SLURM sends SIGTERM, the job
    saves last.ckpt once and stops, SLURM starts it again and it resumes from that checkpoint."""
    sweep_dir = tmp_path / "preempted"
    job_dir = sweep_dir / JOB_DIR
    with start_sweep(tmp_path, sweep_dir, cache_dir, *JOB, *SLOW) as sweep:
        wait_until(lambda: trained_to(job_dir, 600), sweep, "training to step 600")
        job = the_job(sweep_dir)
        slurm("scontrol", "requeue", job)
        assert sweep.wait(timeout=300) == 0
    log = (job_dir / "train.log").read_text()
    (saved,) = re.findall(r"SIGTERM at step (\d+): saved", log)
    assert re.findall(r"Resuming \S+ from \S+last\.ckpt \(step (\d+)\)", log) == [saved]
    assert int(saved) >= 600 and restarts(job) == 1  # SLURM's requeue, the only one
    assert "Requeued job" not in job_log(sweep_dir, job) and "requeing job" not in job_log(sweep_dir, job)
    assert metrics(read_results(job_dir)) == metrics(reference)


@pytest.mark.slow
def test_job_at_its_time_limit_is_requeued_until_it_finishes(slurm_cluster, tmp_path, cache_dir):
    """timeout_min=2 with SIGUSR2 60 s before it: SLURM checks time limits every 30 s, so the signal comes
    30-60 s after the job starts; the job trains at least 64 s, so it is requeued at least once."""
    timed = ["model=mlp", "seed=0", "trainer.max_steps=4000", "eval_every=400"]
    limits = ["hydra.launcher.timeout_min=2", "hydra.launcher.signal_delay_s=60"]
    limits += ["hydra.launcher.max_num_timeout=3"]
    sweep_dir = tmp_path / "timed"
    with start_sweep(tmp_path, sweep_dir, cache_dir, *timed, *slow_steps(0.8), *limits) as sweep:
        expected = uninterrupted(tmp_path / "uninterrupted", cache_dir, timed)
        assert sweep.wait(timeout=600) == 0
    job_dir = sweep_dir / "0_mlp-4000steps-seed0"
    log = (job_dir / "train.log").read_text()
    saved = re.findall(r"SIGUSR2 at step (\d+): saved", log)
    resumed = re.findall(r"Resuming \S+ from \S+last\.ckpt \(step (\d+)\)", log)
    # Each signal during training saved last.ckpt, submitit requeued, and the next start resumed from it. (A
    # signal before or after training goes straight to submitit, which requeues: a resume with no save.)
    assert len(saved) >= 1 and log.count("requeued by submitit") == len(saved) and set(saved) <= set(resumed)
    job = the_job(sweep_dir)
    assert restarts(job) == len(resumed) <= 3
    assert f"({3 - len(resumed)} remaining timeouts)" in job_log(sweep_dir, job)
    assert metrics(read_results(job_dir)) == metrics(expected)


@pytest.mark.slow
def test_job_killed_without_warning_is_resumed_by_sweep_resume(slurm_cluster, tmp_path, cache_dir, reference):
    """SIGKILL of the job's process (the OOM killer; `scancel --signal=KILL` is a plain cancel in SLURM, with
    SIGTERM first): SLURM ends the job, the driver sees it gone and reports it, `resume=` continues it."""
    sweep_dir = tmp_path / "killed"
    job_dir = sweep_dir / JOB_DIR
    with start_sweep(tmp_path, sweep_dir, cache_dir, *JOB, *SLOW) as sweep:
        wait_until(lambda: trained_to(job_dir, 600), sweep, "training to step 600")
        os.kill(job_process(the_job(sweep_dir)), signal.SIGKILL)
        assert sweep.wait(timeout=300) == 1  # the report of the partial sweep
    (row,) = summary(sweep_dir)
    assert row["status"] == "missing" and "resume continues it from last.ckpt" in row["error"]
    last = job_dir / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["global_step"] >= 600

    assert launch.sweep([f"resume={sweep_dir}", *SLOW]) == 0  # SLOW names code: the resume repeats it
    resumed = read_results(job_dir)
    assert resumed["config"]["ckpt_path"] == str(last) and metrics(resumed) == metrics(reference)


def lose_node(cluster: Path, job: str) -> None:
    """What a node failure does: slurmd, every slurmstepd and the job's processes die at once."""
    victims = [pid for pid in cluster_processes(cluster) if process_name(pid) in ("slurmd", "slurmstepd")]
    victims += [int(line.split()[0]) for line in slurm("scontrol", "listpids", job).splitlines()[1:]]
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


@pytest.mark.slow
def test_job_on_a_lost_node_is_requeued_by_slurm_and_resumes(slurm_cluster, tmp_path, cache_dir, reference):
    """The node dies with its job; SLURM marks it down after SlurmdTimeout (30 s here) and requeues the job,
    which starts again once slurmd is back and resumes from its last checkpoint."""
    sweep_dir = tmp_path / "lost"
    job_dir = sweep_dir / JOB_DIR
    with start_sweep(tmp_path, sweep_dir, cache_dir, *JOB, *SLOW) as sweep:
        wait_until(lambda: trained_to(job_dir, 600), sweep, "training to step 600")
        job = the_job(sweep_dir)
        lose_node(slurm_cluster, job)
        wait_until(lambda: slurm("sinfo", "--noheader", "--format=%t").startswith("down"), sweep, "node down")
        subprocess.run(["slurmd", "-f", os.environ["SLURM_CONF"]], check=True)
        assert sweep.wait(timeout=300) == 0
    log = (job_dir / "train.log").read_text()
    (step,) = re.findall(r"Resuming \S+ from \S+last\.ckpt \(step (\d+)\)", log)
    assert int(step) >= 600 and restarts(job) == 1
    assert metrics(read_results(job_dir)) == metrics(reference)


@pytest.mark.slow
def test_restarted_driver_submits_no_job_still_on_the_cluster(slurm_cluster, tmp_path, cache_dir, reference):
    """The driver (sweep.py and its multirun) is killed while two jobs run and one waits for a CPU;
    `resume=` waits for all three, then submits the sweep again: every job trained once, by its first
    submission, and the second skips it."""
    sweep_dir = tmp_path / "restarted"
    with start_sweep(tmp_path, sweep_dir, cache_dir, *JOB, *SLOW, "seed=0,1,2") as sweep:
        states = lambda: sorted(active_jobs(sweep_dir).values())  # noqa: E731
        wait_until(lambda: states() == ["PENDING", "RUNNING", "RUNNING"], sweep, "2 jobs running, 1 queued")
        os.killpg(sweep.pid, signal.SIGKILL)
        sweep.wait()
    first, submitted = set(active_jobs(sweep_dir)), submitted_jobs(sweep_dir)
    assert len(first) == 3
    overlaps: list[set[str]] = []
    with sweep_py(tmp_path / "resume.log", f"resume={sweep_dir}", *SLOW) as resume:
        watch = threading.Thread(target=watch_overlaps, args=(sweep_dir, first, resume, overlaps))
        watch.start()
        assert resume.wait(timeout=600) == 0
        watch.join()
    assert not overlaps, f"jobs submitted while the first ones were still on the cluster: {overlaps}"
    assert "Waiting for 3 job(s) of this sweep" in (tmp_path / "resume.log").read_text()
    assert len(submitted_jobs(sweep_dir) - submitted) == 4  # then a second job array: its id, its 3 tasks
    for job_dir in sorted(sweep_dir.glob("*_mlp-*")):
        log = (job_dir / "train.log").read_text()
        assert log.count(f"Skipping {job_dir.name}: already completed") == 1 and "Resuming" not in log
        assert read_results(job_dir)["status"] == "ok"
    assert metrics(read_results(sweep_dir / JOB_DIR)) == metrics(reference)


def watch_overlaps(
    sweep_dir: Path, first: set[str], resume: subprocess.Popen, overlaps: list[set[str]]
) -> None:
    """Record every moment a job of a new submission is on the cluster together with one of `first`."""
    while resume.poll() is None:
        active = set(active_jobs(sweep_dir))
        if active - first and active & first:
            overlaps.append(active)
        time.sleep(0.5)
