"""`python sweep.py` end to end: a tiny grid through the launchers, the report, failures, resume, shared
budgets."""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mnist1d.locks import RUN_LOCK, SWEEP_LOCK, DirectoryInUse
from mnist1d.sweeps import launch
from mnist1d.training.fit import fit
from mnist1d.trusted import UntrustedFileError
from tests.helpers import ON_CPU, ROOT, lock_held_elsewhere, needs, read_results

FIGURES = ["accuracy_5steps.png", "accuracy_10steps.png", "learning_curves.png", "accuracy_vs_parameters.png"]
FIGURES += ["learning_curves_5steps.png", "per_digit_errors.png"]  # the last budget's curves: learning_curves


# On the CPU: the tests compare the metrics of runs made in different ways, bit for bit.
QUICK = ["eval_every=5", "logger=csv", "callbacks=none", ON_CPU]


TINY_GRID = ["model=logistic,mlp", "trainer.max_steps=5,10", "seed=0,1"]


# In the study grid's axis order (steps, model, seed), which a command-line axis keeps.
TINY_JOBS = [
    f"{model}-{steps}steps-seed{seed}"
    for steps in (5, 10)
    for model in ("logistic", "mlp")
    for seed in (0, 1)
]


def run_sweep(sweep_dir: Path, cache_dir: Path, *arguments: str) -> int:
    return launch.sweep([f"dir={sweep_dir}", f"paths.cache_dir={cache_dir}", *QUICK, *arguments])


def summary(sweep_dir: Path) -> list[dict[str, str]]:
    with (sweep_dir / "summary.csv").open() as file:
        return list(csv.DictReader(file))


def check_tiny_grid_report(sweep_dir: Path) -> None:
    """Job dirs named by job number, model, steps and seed; summary.csv from their results; the report."""
    assert sorted(d.name for d in sweep_dir.glob("*_*steps-seed*")) == sorted(
        f"{job}_{name}" for job, name in enumerate(TINY_JOBS)
    )
    rows = summary(sweep_dir)
    assert [row["status"] for row in rows] == ["ok"] * 8
    for row in rows:
        results = read_results(sweep_dir / row["job_dir"])
        assert float(row["final_acc"]) == results["final_acc"] and int(row["steps"]) == results["max_steps"]
        assert row["shared_budget"] == "False" and row["source_run"] == row["job_dir"]
    report = (sweep_dir / "results.md").read_text()
    mlp_10 = [100 * float(row["final_acc"]) for row in rows if row["model"] == "mlp" and row["steps"] == "10"]
    assert f"{sum(mlp_10) / 2:.1f} ± " in report and "(n=2)" in report and "| human |" in report
    assert "| logistic | 410 |" in report and "All runs completed." in report
    for name in FIGURES:
        check_png(sweep_dir / name)


def check_png(path: Path) -> None:
    from matplotlib.image import imread

    from mnist1d.reports.study_figures import FIGURE_SIZE_PX

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width, _ = imread(path).shape
    assert (width, height) == FIGURE_SIZE_PX


@pytest.fixture(scope="module")
def basic_sweep(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> tuple[Path, int]:
    sweep_dir = tmp_path_factory.mktemp("sweeps") / "basic"
    return sweep_dir, run_sweep(sweep_dir, cache_dir, *TINY_GRID)


def test_basic_launcher_runs_the_grid_and_writes_the_report(basic_sweep):
    sweep_dir, status = basic_sweep
    assert status == 0
    check_tiny_grid_report(sweep_dir)
    spec = json.loads((sweep_dir / "sweep.json").read_text())
    assert spec["name"] == "study" and spec["launcher"] == "basic"


def test_report_on_demand_rewrites_the_same_summary(basic_sweep, tmp_path):
    sweep_dir, _ = basic_sweep
    copy = shutil.copytree(sweep_dir, tmp_path / "copy")
    (copy / "summary.csv").unlink()
    assert launch.sweep([f"report={copy}"]) == 0
    assert summary(copy) == summary(sweep_dir)


def test_resume_skips_completed_jobs_and_reruns_failed_or_missing(basic_sweep, tmp_path, cache_dir):
    sweep_dir, _ = basic_sweep
    copy = shutil.copytree(sweep_dir, tmp_path / "interrupted")
    failed, missing = copy / f"0_{TINY_JOBS[0]}", copy / f"5_{TINY_JOBS[5]}"
    results = read_results(failed) | {"status": "failed", "error": "RuntimeError: killed"}
    (failed / "results.json").write_text(json.dumps(results))
    (missing / "results.json").unlink()
    assert launch.sweep([f"report={copy}"]) == 1
    assert [row["status"] for row in summary(copy)].count("ok") == 6
    untouched = {
        p: p.stat().st_mtime_ns for p in copy.glob("*/results.json") if p.parent not in (failed, missing)
    }
    assert launch.sweep([f"resume={copy}"]) == 0
    assert {p: p.stat().st_mtime_ns for p in untouched} == untouched
    assert read_results(failed)["status"] == read_results(missing)["status"] == "ok"
    assert read_results(missing)["final_acc"] == read_results(sweep_dir / missing.name)["final_acc"]
    check_tiny_grid_report(copy)


def test_shared_budget_equals_a_separate_short_run_and_a_failing_job_is_reported(
    basic_sweep, tmp_path, cache_dir
):
    basic_dir, _ = basic_sweep
    sweep_dir = tmp_path / "shared"
    grid = ["model=mlp", "trainer.max_steps=5,10", "seed=0", "model.hidden_size=100,-1"]
    assert run_sweep(sweep_dir, cache_dir, "share_budgets=true", *grid) == 1  # 1: a job failed
    job_dirs = sorted(d.name for d in sweep_dir.glob("*_mlp-*"))
    assert job_dirs == ["0_mlp-10steps-seed0", "1_mlp-10steps-seed0"]  # only the longest budget ran
    rows = summary(sweep_dir)
    shared, failed = rows[0], rows[1]
    assert failed["status"] == "failed" and failed["error"]  # the net cannot be built with -1 units
    assert (
        f"1_mlp-10steps-seed0 | failed | {failed['error'].splitlines()[0]}"
        in (sweep_dir / "results.md").read_text()
    )
    (shared_5,) = [row for row in rows if row["shared_budget"] == "True"]
    assert shared["steps"] == "10" and shared["status"] == "ok" and shared["shared_budget"] == "False"
    assert shared_5["steps"] == "5" and shared_5["source_run"] == "0_mlp-10steps-seed0"
    job = TINY_JOBS.index("mlp-5steps-seed0")
    separate = read_results(basic_dir / f"{job}_{TINY_JOBS[job]}")  # trained on its own
    assert float(shared_5["final_acc"]) == separate["final_acc"]
    assert "shared budgets" in (sweep_dir / "results.md").read_text()


def test_a_diverging_job_is_reported_failed_while_the_others_complete(tmp_path, cache_dir):
    grid = ["model=mlp", "optimizer=sgd", "optimizer.lr=0.01,1e20", "trainer.max_steps=10", "seed=0"]
    assert run_sweep(tmp_path / "nan", cache_dir, *grid) == 1  # 1: a job failed
    ok, diverged = summary(tmp_path / "nan")
    assert ok["status"] == "ok" and ok["steps"] == "10"
    assert diverged["status"] == "failed" and diverged["error"].startswith("NonFiniteLossError")
    assert "| failed | NonFiniteLossError" in (tmp_path / "nan" / "results.md").read_text()


@pytest.mark.slow
def test_failed_jobs_of_a_plain_multirun_are_reported_not_fatal(tmp_path, cache_dir):
    sweep_dir = tmp_path / "multirun"
    command = [sys.executable, "train.py", "-m", "model=mlp", "model.hidden_size=8,-1", "trainer.max_steps=5"]
    command += [*QUICK, f"paths.cache_dir={cache_dir}", f"hydra.sweep.dir={sweep_dir}"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0  # the multirun says a job failed, after running all of them
    assert launch.sweep([f"report={sweep_dir}"]) == 1
    rows = {row["overrides"].split("model.hidden_size=")[1].split()[0]: row for row in summary(sweep_dir)}
    assert rows["8"]["status"] == "ok" and rows["-1"]["status"] == "failed"
    assert (
        f"1_mlp-5steps-seed0 | failed | {rows['-1']['error'].splitlines()[0]}"
        in (sweep_dir / "results.md").read_text()
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["grid.seed=[]"], "sweep grid axis 'seed' is empty"),
        (["share_budgets=true", "scheduler=cosine"], "share_budgets=true is refused with scheduler="),
        (["share_budgets=true", "trainer.max_steps=300,500"], "multiple of eval_every=250"),
        (["launcher=mpi"], "launcher='mpi' is invalid"),
        (["wandb_report=loud"], "wandb_report='loud' is invalid: must be one of"),  # not after the jobs
    ],
)
def test_bad_sweeps_are_refused_before_any_job(arguments, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        launch.sweep([f"dir={tmp_path / 'never'}", *arguments])
    assert not (tmp_path / "never").exists()


def test_sweeps_started_together_get_their_own_directories(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first, second = launch.new_sweep_dir(None, "study"), launch.new_sweep_dir(None, "study")
    assert first != second and first.parent == second.parent == tmp_path / "outputs" / "sweeps"
    assert launch.new_sweep_dir(str(first), "study").name == f"{first.name}-1"


@pytest.mark.slow
def test_joblib_launcher_with_wandb_offline_runs(tmp_path, cache_dir, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    sweep_dir = tmp_path / "joblib"
    status = run_sweep(sweep_dir, cache_dir, *TINY_GRID, "launcher=joblib", "hydra.launcher.n_jobs=2",
                       "logger=wandb", "wandb_report=offline")  # fmt: skip
    assert status == 0
    check_tiny_grid_report(sweep_dir)
    for job_dir in sweep_dir.glob("*_*steps-seed*"):
        assert read_results(job_dir)["config"]["num_threads"] == max(1, (os.cpu_count() or 1) // 2)
        (run_dir,) = (job_dir / "wandb").glob("offline-run-*")  # one W&B run per job
        (records,) = run_dir.glob("run-*.wandb")
        log = records.read_bytes()
        assert sweep_dir.name.encode() in log  # the group
        assert (
            f"model:{read_results(job_dir)['model']}".encode() in log and b"steps:" in log and b"seed:" in log
        )
    (report_run,) = (sweep_dir / "wandb").glob("offline-run-*")  # every figure the report wrote, as an image
    assert len(list(report_run.glob("files/media/images/*.png"))) == len(list(sweep_dir.glob("*.png")))


@pytest.mark.slow
def test_same_metrics_with_the_basic_and_joblib_launchers_at_equal_threads(tmp_path, cache_dir):
    grid = ["model=logistic,mlp", "trainer.max_steps=10", "seed=0", "num_threads=1"]
    run_sweep(tmp_path / "basic", cache_dir, *grid)
    run_sweep(tmp_path / "joblib", cache_dir, *grid, "launcher=joblib", "hydra.launcher.n_jobs=2")
    jobs = sorted(d.name for d in (tmp_path / "basic").glob("*_*steps-seed*"))
    assert len(jobs) == 2
    for job in jobs:
        basic, joblib = read_results(tmp_path / "basic" / job), read_results(tmp_path / "joblib" / job)
        assert basic["status"] == joblib["status"] == "ok"
        assert basic["history"] == joblib["history"]
        assert basic["confusion_matrix"] == joblib["confusion_matrix"]


@pytest.mark.slow
@needs("hydra_plugins.hydra_submitit_launcher")
def test_submitit_local_launcher(tmp_path, cache_dir):
    sweep_dir = tmp_path / "submitit"
    assert run_sweep(sweep_dir, cache_dir, *TINY_GRID, "launcher=submitit_local") == 0
    check_tiny_grid_report(sweep_dir)
    assert list((sweep_dir / ".submitit").iterdir())  # the jobs went through submitit


@pytest.mark.slow
def test_sigkill_of_the_training_process_then_resume_continues_from_the_last_checkpoint(
    tmp_path, cache_dir, make_cfg
):
    """The user's path: `kill -9` of a sweep's training process part-way through its first job (what the
    OOM killer or a lost node does), then `python sweep.py resume=<dir>`."""
    sweep_dir = tmp_path / "killed"
    job = ["model=mlp", "trainer.max_steps=1000", "eval_every=50", "num_threads=1", "logger=csv", ON_CPU]
    command = [
        sys.executable,
        "sweep.py",
        f"dir={sweep_dir}",
        f"paths.cache_dir={cache_dir}",
        *job,
        "seed=0,1",
    ]
    sweep_py = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    log = sweep_dir / "0_mlp-1000steps-seed0" / "train.log"
    deadline = time.monotonic() + 300
    while not (log.exists() and "step 300/" in log.read_text()) and time.monotonic() < deadline:
        assert sweep_py.poll() is None, sweep_py.stderr.read()
        time.sleep(0.05)
    (training,) = Path(f"/proc/{sweep_py.pid}/task/{sweep_py.pid}/children").read_text().split()
    os.kill(int(training), signal.SIGKILL)
    assert sweep_py.wait(timeout=120) == 1  # the report of the partial sweep, then exit 1
    killed, not_started = summary(sweep_dir)
    assert killed["status"] == "missing" and "resume continues it from last.ckpt" in killed["error"]
    assert not_started["status"] == "missing" and not_started["error"] == "not run yet"
    stopped_at = torch.load(sweep_dir / killed["job_dir"] / "checkpoints" / "last.ckpt", weights_only=True)
    assert stopped_at["global_step"] >= 300

    assert launch.sweep([f"resume={sweep_dir}"]) == 0
    resumed = read_results(sweep_dir / killed["job_dir"])
    assert resumed["config"]["ckpt_path"] == str(sweep_dir / killed["job_dir"] / "checkpoints" / "last.ckpt")
    fit(make_cfg(*job, "seed=0"))
    uninterrupted = read_results(tmp_path / "run")
    assert resumed["status"] == "ok" and resumed["history"] == uninterrupted["history"]
    assert resumed["final_test_acc"] == uninterrupted["final_test_acc"]
    assert [row["status"] for row in summary(sweep_dir)] == ["ok", "ok"]


def crafted_copy(sweep_dir: Path, copy: Path, **changes: object) -> Path:
    """A copy of a finished sweep whose sweep.json is changed as someone handing it over could."""
    shutil.copytree(sweep_dir, copy)
    saved = json.loads((copy / "sweep.json").read_text())
    (copy / "sweep.json").write_text(json.dumps(saved | changes))
    return copy


def leak(sweep_dir: Path, rows: list, cfg: object) -> list[Path]:
    """A "report function" that is any other code."""
    (sweep_dir / "pwned").touch()
    return []


def test_a_sweep_directory_runs_no_code_on_resume_or_report(basic_sweep, tmp_path):
    sweep_dir, _ = basic_sweep
    marker = tmp_path / "pwned"
    path = f"{{_target_: pathlib.Path, _args_: ['{marker}']}}"
    callback = f"+hydra.callbacks.x={{_target_: pathlib.Path.touch, _args_: [{path}]}}"  # Hydra builds it
    fixed = json.loads((sweep_dir / "sweep.json").read_text())["fixed"] + [callback]
    resumed = crafted_copy(sweep_dir, tmp_path / "resumed", fixed=fixed)
    with pytest.raises(UntrustedFileError, match=re.escape(f"{resumed / 'sweep.json'}: entry {callback!r}")):
        launch.sweep([f"resume={resumed}"])
    reported = crafted_copy(sweep_dir, tmp_path / "reported", report_fn=f"{__name__}.leak")
    with pytest.raises(UntrustedFileError, match=re.escape(f"{reported / 'sweep.json'}: report_fn=")):
        launch.sweep([f"report={reported}"])
    assert not marker.exists() and not (reported / "pwned").exists()


def test_one_driver_per_sweep_directory(basic_sweep, tmp_path, caplog):
    """A second `sweep.py resume=` stops before it touches anything while the first runs, and so does one
    whose killed predecessor left its multirun running the jobs; a killed driver's directory is taken over."""
    sweep_dir, _ = basic_sweep
    copy = shutil.copytree(sweep_dir, tmp_path / "shared")
    files = {path: path.stat().st_mtime_ns for path in copy.rglob("*") if path.is_file()}
    with (
        lock_held_elsewhere(copy, SWEEP_LOCK) as driver,
        pytest.raises(DirectoryInUse, match=f"{driver.pid} "),
    ):
        launch.sweep([f"resume={copy}"])
    with (
        lock_held_elsewhere(copy, RUN_LOCK) as multirun,
        pytest.raises(DirectoryInUse, match=f"{multirun.pid} "),
    ):
        launch.sweep([f"resume={copy}"])
    assert {path: path.stat().st_mtime_ns for path in files} == files
    with caplog.at_level(logging.WARNING):
        assert launch.sweep([f"resume={copy}"]) == 0
    assert f"taking over from pid {driver.pid} " in caplog.text
    assert f"taking over from pid {multirun.pid} " in caplog.text
    assert not list(copy.glob(".*.json"))  # the records went with their holders


def test_stacked_launcher_trains_each_configurations_seeds_as_one_stack(tmp_path, cache_dir):
    sweep_dir = tmp_path / "stacked"
    status = run_sweep(
        sweep_dir, cache_dir, "model=logistic", "trainer.max_steps=5", "seed=0,1", "launcher=stacked"
    )
    assert status == 0
    rows = summary(sweep_dir)
    assert [(row["seed"], row["status"]) for row in rows] == [("0", "ok"), ("1", "ok")]
    first, second = (read_results(sweep_dir / row["job_dir"]) for row in rows)
    assert first["stacked_with"] == [rows[1]["job_dir"]] and second["stacked_with"] == [rows[0]["job_dir"]]
    assert (sweep_dir / "results.md").exists()
