"""`python train.py` as users run it: a run, a refused config, SIGTERM and resume (the Optuna search:
tests/sweeps/test_optuna_sweeper.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from mnist1d.errors import FULL_ERROR_HINT, ConfigError, DiskFullError, reported_as_message
from mnist1d.sweeps import launch
from mnist1d.training.fit import fit
from tests.helpers import RESUMABLE, ROOT, read_results, slow_steps

QUICK = ["eval_every=5", "logger=csv", "callbacks=none"]


# Messages of the libraries that say nothing to a user of this project (mnist1d/training/quiet.py).
NOISE = (
    "LeafSpec",
    "litlogger",
    "anonymous setting",
    "smaller than the logging interval",
    "was configured so",
    "The `srun` command is available",  # on a machine with SLURM installed
)


def test_train_py_command_line(tmp_path, cache_dir):
    run_dir = tmp_path / "cli"
    command = [sys.executable, "train.py", "model=logistic", "trainer.max_steps=20", "eval_every=10"]
    command += ["logger=wandb", "logger.wandb.mode=offline", f"hydra.run.dir={run_dir}"]
    done = subprocess.run(
        [*command, f"paths.cache_dir={cache_dir}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    results = read_results(run_dir)
    assert results["status"] == "ok" and results["steps"] == 20
    assert (run_dir / "csv" / "metrics.csv").read_text().count("\n") > 2
    assert (run_dir / "checkpoints" / "last.ckpt").exists()
    output = done.stdout + done.stderr
    assert not [noise for noise in NOISE if noise in output], output
    test_acc = f"final test accuracy {100 * results['final_test_acc']:.1f} %"
    assert test_acc in output and "20 steps in" in output and f"run directory: {run_dir}" in output
    assert "wandb sync" in output
    assert results["config"]["num_threads"] == min(4, max(1, (os.cpu_count() or 1) // 2))


@pytest.mark.slow
def test_sigterm_to_train_py_then_resume_matches_uninterrupted_run(make_cfg, tmp_path, cache_dir):
    run_dir = tmp_path / "cli"
    command = [sys.executable, "train.py", *RESUMABLE, "trainer.max_steps=100000", "logger=csv"]
    command += [f"hydra.run.dir={run_dir}", f"paths.cache_dir={cache_dir}"]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 300
    log = run_dir / "train.log"
    while not (log.exists() and "step 10/" in log.read_text()) and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 128 + signal.SIGTERM
    interrupted = read_results(run_dir)
    assert interrupted["status"] == "interrupted" and interrupted["steps"] >= 10
    assert "resume with ckpt_path=" in interrupted["error"]

    steps = interrupted["steps"] + 20
    fit(make_cfg(*RESUMABLE, f"trainer.max_steps={steps}", run="full"))
    last = run_dir / "checkpoints" / "last.ckpt"
    fit(make_cfg(*RESUMABLE, f"trainer.max_steps={steps}", f"ckpt_path={last}", run="resumed"))
    full, resumed = read_results(tmp_path / "full"), read_results(tmp_path / "resumed")
    assert resumed["steps"] == steps
    assert resumed["history"] == full["history"]
    assert resumed["final_test_acc"] == full["final_test_acc"]


def test_command_line_exits_non_zero_and_leaves_earlier_files_untouched(tmp_path, cache_dir):
    run_dir = tmp_path / "earlier_run"
    earlier = {run_dir / "checkpoints" / "last.ckpt": b"weights", run_dir / "csv" / "metrics.csv": b"step\n"}
    for path, content in earlier.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    stamps = {path: path.stat().st_mtime_ns for path in earlier}
    cached_before = sorted(cache_dir.iterdir())
    command = [sys.executable, "train.py", "trainer.max_steps=0", "eval_every=0", "logger=csv"]
    command += [f"hydra.run.dir={run_dir}", f"paths.cache_dir={cache_dir}"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.startswith("invalid training config:\n") and "Traceback" not in done.stderr
    assert done.stderr.endswith(f"\n\n{FULL_ERROR_HINT}\n") and "Error executing job" not in done.stderr
    assert "trainer.max_steps=0 is invalid: must be an integer >= 1" in done.stderr
    assert "eval_every=0 is invalid: must be an integer >= 1" in done.stderr
    for path, content in earlier.items():
        assert path.read_bytes() == content and path.stat().st_mtime_ns == stamps[path]
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["last.ckpt"]
    assert sorted(cache_dir.iterdir()) == cached_before


def test_help_lists_only_the_groups_train_py_can_use():
    done = subprocess.run(
        [sys.executable, "train.py", "--help"], cwd=ROOT, check=True, capture_output=True, text=True
    )
    groups = done.stdout.split("== Configuration groups ==")[1].split("== Config ==")[0]
    names = {line.split(":")[0] for line in groups.splitlines() if ": " in line}
    assert {"model", "data", "trainer", "logger", "experiment", "hparams_search"} <= names
    assert not names & {"sweep", "apps", "sweeps", "train"}


def test_config_errors_of_every_command_are_a_message_and_exit_1_without_traceback(tmp_path, cache_dir):
    """As Hydra reports its own config errors. A multirun runs its other jobs, records the refused job's
    error in its results.json, and ends with the message (train.py's single run: the test above)."""
    out = tmp_path
    commands = {
        "eval": ["eval.py", f"ckpt_path={out / 'none.ckpt'}", f"hydra.run.dir={out / 'eval'}"],
        "app": ["-m", "mnist1d.apps.metalearn_lr", "outer_steps=0", f"hydra.run.dir={out / 'app'}"],
        "multirun": ["train.py", "-m", "seed=-1,0", "model=logistic", "trainer.max_steps=5", *QUICK],
    }
    commands["multirun"] += [f"hydra.sweep.dir={out / 'multirun'}", f"paths.cache_dir={cache_dir}"]
    environment = {key: value for key, value in os.environ.items() if key != "HYDRA_FULL_ERROR"}
    running = {
        name: subprocess.Popen(
            [sys.executable, *arguments], cwd=ROOT, env=environment, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )
        for name, arguments in commands.items()
    }  # fmt: skip
    errors = {name: process.communicate(timeout=300)[1] for name, process in running.items()}
    assert {name: process.returncode for name, process in running.items()} == dict.fromkeys(commands, 1)
    missing = out / "none.ckpt"
    messages = {
        "eval": f"invalid training config:\n  - ckpt_path='{missing}' is invalid: must be a readable",
        "app": "outer_steps=0 is invalid: must be a positive int\n",
        "multirun": "invalid training config:\n  - seed=-1 is invalid: must be an integer in [0, 2**32)\n",
    }
    for name, message in messages.items():
        assert message in errors[name] and "Traceback" not in errors[name], errors[name]
        assert errors[name].endswith(f"\n\n{FULL_ERROR_HINT}\n"), errors[name]
    assert errors["eval"].startswith("invalid training config:\n")
    refused, completed = sorted((out / "multirun").glob("*_logistic-5steps-seed*"))
    assert read_results(refused)["error"] == f"ConfigError: {messages['multirun'].rstrip()}"
    assert read_results(completed)["status"] == "ok"


def test_sweep_py_refusal_is_a_message_and_exit_1(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(SystemExit) as stopped:
        launch.main(["launcher=mpi", f"dir={tmp_path / 'never'}"])
    assert stopped.value.code == 1 and not (tmp_path / "never").exists()
    refusal = (
        "launcher='mpi' is invalid: must be one of ('basic', 'joblib', 'submitit_local', 'submitit_slurm')"
    )
    assert capsys.readouterr().err == f"{refusal}\n\n{FULL_ERROR_HINT}\n"


@pytest.mark.parametrize(
    "error", [ConfigError(["seed=-1 is invalid: must be >= 0"]), DiskFullError("/x/last.ckpt")]
)
def test_hydra_full_error_shows_the_traceback_and_other_errors_keep_theirs(error, monkeypatch, capsys):
    """What every command's wrapper does with an expected error, with and without HYDRA_FULL_ERROR=1."""
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(SystemExit) as stopped, reported_as_message(ConfigError, DiskFullError):
        raise error
    assert stopped.value.code == 1 and capsys.readouterr().err == f"{error}\n\n{FULL_ERROR_HINT}\n"
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(type(error)), reported_as_message(ConfigError, DiskFullError):
        raise error
    monkeypatch.delenv("HYDRA_FULL_ERROR")
    with pytest.raises(RuntimeError), reported_as_message(ConfigError, DiskFullError):  # a bug: a traceback
        raise RuntimeError("a bug")


def test_two_train_py_on_one_run_directory(tmp_path, cache_dir):
    """The second is refused, naming the first, before Hydra writes there; once the first is killed, the
    next run takes its directory over."""
    run_dir = tmp_path / "shared"
    command = [sys.executable, "train.py", "model=logistic", "logger=csv", f"hydra.run.dir={run_dir}"]
    command += [f"paths.cache_dir={cache_dir}", "num_threads=1"]
    first = subprocess.Popen(
        [*command, "trainer.max_steps=5000", *slow_steps(0.5)], cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        log = run_dir / "train.log"  # its first evaluation: Hydra's record of the run is written by then
        while not (log.exists() and "step 250/" in log.read_text()) and time.monotonic() < deadline:
            assert first.poll() is None
            time.sleep(0.1)
        hydra_record = {path.name: path.read_bytes() for path in (run_dir / ".hydra").iterdir()}
        second = subprocess.run(
            [*command, "trainer.max_steps=5", "seed=1"], cwd=ROOT, capture_output=True, text=True, timeout=300
        )
        assert second.returncode == 1 and "Traceback" not in second.stderr, second.stderr
        assert f"{run_dir} is in use by pid {first.pid} on " in second.stderr
        assert {path.name: path.read_bytes() for path in (run_dir / ".hydra").iterdir()} == hydra_record
    finally:
        first.kill()
        first.wait()
    third = subprocess.run(
        [*command, "trainer.max_steps=5"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert third.returncode == 0 and f"taking over from pid {first.pid} " in third.stdout, third.stdout
    assert read_results(run_dir)["status"] == "ok" and not (run_dir / ".lock.json").exists()
