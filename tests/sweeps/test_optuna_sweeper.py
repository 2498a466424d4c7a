"""`python train.py -m hparams_search=optuna`: a small search on current Optuna, resumed from its storage,
pruned by the median pruner, selected on the validation split; and the search space's grammar."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna", reason="the optuna extra is not installed")

from hydra.core.override_parser.overrides_parser import OverridesParser  # noqa: E402
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

from mnist1d.sweeps.optuna_sweeper import SearchError, consecutive, distribution  # noqa: E402
from tests.helpers import ROOT, read_results  # noqa: E402

QUICK = ["model=cnn", "eval_every=5", "logger=csv", "callbacks=none"]


def search(sweep_dir: Path, cache_dir: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "train.py", "-m", "hparams_search=optuna", *QUICK, *overrides]
    command += [f"paths.cache_dir={cache_dir}", f"hydra.sweep.dir={sweep_dir}"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def study(sweep_dir: Path) -> optuna.Study:
    return optuna.load_study(study_name="lr-width", storage=f"sqlite:///{sweep_dir / 'optuna.db'}")


def test_a_search_is_stored_resumed_without_rerunning_a_trial_and_selected_on_validation(tmp_path, cache_dir):
    sweep_dir = tmp_path / "search"
    first = search(sweep_dir, cache_dir, "hydra.sweeper.n_trials=2", "trainer.max_steps=10")
    assert first.returncode == 0, first.stderr
    assert "A new study created" not in first.stderr and "setup plugin alembic" not in first.stderr
    stamps = {d.name: (d / "results.json").stat().st_mtime_ns for d in sweep_dir.glob("*_cnn-*")}
    assert sorted(stamps) == ["0_cnn-10steps-seed0", "1_cnn-10steps-seed0"]
    # A search stopped while trial 2 ran: asked from the study, never told (its job never finished).
    left = study(sweep_dir).ask({"optimizer.lr": FloatDistribution(1e-3, 1e-1, log=True)})
    left_lr = left.params["optimizer.lr"]

    command = [sys.executable, "train.py", "-m", "hparams_search=optuna", f"resume={sweep_dir}"]
    command += ["hydra.sweeper.n_trials=4", f"hydra.sweep.dir={tmp_path / 'unused'}"]
    resumed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    resumed_output = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, resumed_output
    assert not (tmp_path / "unused").exists()
    trials = study(sweep_dir).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    jobs = {d.name.split("_")[0]: read_results(d) for d in sweep_dir.glob("*_cnn-*")}
    assert sorted(jobs) == ["0", "1", "2", "3"]
    for name, stamp in stamps.items():  # the finished trials were not run again
        assert (sweep_dir / name / "results.json").stat().st_mtime_ns == stamp
    assert jobs["2"]["config"]["optimizer"]["lr"] == left_lr  # the stopped trial ran with its own parameters
    assert all(trial.value == jobs[str(trial.number)]["final_acc"] for trial in trials)
    assert all(job["eval_split"] == "val" and job["steps"] == 10 for job in jobs.values())  # its overrides
    assert len({trial.params["optimizer.lr"] for trial in trials}) == 4  # no parameters drawn twice

    best = json.loads((sweep_dir / "best_trial.json").read_text())
    chosen = max(jobs, key=lambda number: jobs[number]["final_acc"])
    assert best["trial"] == int(chosen) and best["selected_on"] == "val"
    assert best["selection_acc"] == jobs[chosen]["final_acc"]
    assert best["test_acc"] == jobs[chosen]["final_test_acc"]
    assert best["trials"] == {"complete": 4}


@pytest.mark.slow
def test_the_median_pruner_stops_a_trial_below_the_median_at_the_same_step(tmp_path, cache_dir):
    sweep_dir = tmp_path / "search"
    sweep_dir.mkdir()
    queued = optuna.create_study(
        study_name="lr-width", storage=f"sqlite:///{sweep_dir / 'optuna.db'}", direction="maximize"
    )
    queued.enqueue_trial({"optimizer.lr": 0.01, "model.channels": 32})  # learns
    queued.enqueue_trial({"optimizer.lr": 1e-5, "model.channels": 8})  # stays at chance
    done = search(
        sweep_dir, cache_dir, "hydra.sweeper.n_trials=2", "trainer.max_steps=30", "eval_every=10",
        "hydra/sweeper/pruner=median", "hydra.sweeper.pruner.n_startup_trials=1", "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=1",  # the job reaches the study from another process, through its storage
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [t.state for t in study(sweep_dir).trials] == [TrialState.COMPLETE, TrialState.PRUNED]
    pruned = read_results(next(sweep_dir.glob("1_cnn-*")))
    assert pruned["steps"] == 10 and [h["step"] for h in pruned["history"]] == [10]
    assert study(sweep_dir).trials[1].intermediate_values == {10: pruned["final_acc"]}
    assert json.loads((sweep_dir / "best_trial.json").read_text())["trials"] == {"complete": 1, "pruned": 1}


def test_a_search_on_the_test_split_is_refused_before_any_trial(tmp_path, cache_dir):
    done = search(tmp_path / "search", cache_dir, "data.val_fraction=0", "trainer.max_steps=5")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "selects trials on a validation split" in done.stderr and "data.val_fraction=0" in done.stderr
    assert not list((tmp_path / "search").glob("*_cnn-*"))


def parsed(line: str) -> object:
    (override,) = OverridesParser.create().parse_overrides([line])
    return distribution(override)


def test_the_search_space_is_written_in_hydras_override_grammar():
    assert parsed("a=choice(8, 16, 32)") == CategoricalDistribution([8, 16, 32])
    assert parsed("a=range(4, 10, 2)") == IntDistribution(4, 8, step=2)  # the stop is excluded, as in Python
    assert parsed("a=tag(log, interval(1e-4, 1e-1))") == FloatDistribution(1e-4, 1e-1, log=True)
    assert parsed("a=interval(1, 5)") == FloatDistribution(1.0, 5.0)  # floats, as in Hydra's grammar
    assert parsed("a=3") is None
    with pytest.raises(SearchError, match="must hold integers"):
        parsed("a=range(0.5, 2.0, 0.5)")


def test_trials_left_running_are_launched_in_runs_of_consecutive_numbers():
    assert list(consecutive([7, 2, 3, 5])) == [[2, 3], [5], [7]]
    assert list(consecutive([])) == []
