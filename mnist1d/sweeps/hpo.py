"""The hyperparameter search's outcome, `best_trial.json`: the trial selected on the validation split, and
its test accuracy reported beside it.

Trials are selected on a validation split carved from the training data (conf/train/hparams_search/optuna.yaml
sets `data.val_fraction`), never on the test split: choosing among many trials by their test accuracy would
fit the test set and report an optimistic number. The best trial's test accuracy is the estimate of how the
chosen hyperparameters do on unseen data.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from mnist1d.atomic import write_json
from mnist1d.records import read_run

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)
BEST_TRIAL_FILE = "best_trial.json"


def write_best_trial(sweep_dir: Path, study: optuna.Study, storage: str) -> None:
    """Write `best_trial.json` into the search's directory and log the selected trial's test accuracy."""
    import optuna

    states = [trial.state for trial in study.trials]
    counts = {state.name.lower(): states.count(state) for state in optuna.trial.TrialState if state in states}
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        log.warning("No trial of %s completed: no best trial to report", sweep_dir)
        return
    best = study.best_trial
    (trial_dir,) = sweep_dir.glob(f"{best.number}_*")  # job directories are numbered like the trials
    record = read_run(trial_dir)
    report = {
        "study": study.study_name,
        "storage": storage,
        "trial": best.number,
        "trial_dir": trial_dir.name,
        "params": best.params,
        "selected_on": record.eval_split,
        "selection_acc": best.value,
        "test_acc": record.final_test_acc,
        "trials": counts,
    }
    write_json(sweep_dir / BEST_TRIAL_FILE, report)
    log.info(
        "Best of %d trials: %s, %s accuracy %.4f (maximised), test accuracy %.4f (reported, not used)",
        len(study.trials), trial_dir.name, record.eval_split, best.value, record.final_test_acc,
    )  # fmt: skip
