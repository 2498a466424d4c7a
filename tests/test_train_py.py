"""`python train.py` as users run it: a run, a refused config, SIGTERM and resume, an Optuna multirun."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from mnist1d.errors import FULL_ERROR_HINT, ConfigError, DiskFullError, reported_as_message
from mnist1d.sweeps import launch
from mnist1d.training.fit import fit
from tests.helpers import RESUMABLE, ROOT, read_results

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


@pytest.mark.slow
def test_optuna_search_maximises_what_train_returns(tmp_path, cache_dir):
    sweep_dir = tmp_path / "optuna"
    command = [
        sys.executable,
        "train.py",
        "-m",
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=2",
        "model=cnn",
    ]
    command += ["trainer.max_steps=5", *QUICK, f"paths.cache_dir={cache_dir}", f"hydra.sweep.dir={sweep_dir}"]
    done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True, timeout=300)
    trials = {d.name: read_results(d) for d in sweep_dir.glob("*_cnn-5steps-seed0")}
    assert len(trials) == 2 and all(trial["eval_split"] == "val" for trial in trials.values())
    best = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert best["best_value"] == max(trial["final_acc"] for trial in trials.values())  # selected on val
    assert set(best["best_params"]) == {"optimizer.lr", "model.channels"}
    reported = json.loads((sweep_dir / "best_trial.json").read_text())
    chosen = trials[reported["trial"]]
    assert reported["selection_acc"] == chosen["final_acc"] == best["best_value"]
    assert reported["test_acc"] == chosen["final_test_acc"] and reported["selected_on"] == "val"
    assert "setup plugin alembic" not in done.stderr and "A new study created" not in done.stderr


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
