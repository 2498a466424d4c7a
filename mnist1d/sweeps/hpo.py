"""Honest hyperparameter search with Hydra's Optuna sweeper (`python train.py -m hparams_search=optuna`).

Trials are selected on a validation split carved from the training data (conf/train/hparams_search/optuna.yaml
sets `data.val_fraction`), never on the test split: choosing among many trials by their test accuracy would
fit the test set and report an optimistic number. The best trial's test accuracy is then reported beside,
as the estimate of how the chosen hyperparameters do on unseen data.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from mnist1d.atomic import write_json
from mnist1d.records import read_run

log = logging.getLogger(__name__)
BEST_TRIAL_FILE = "best_trial.json"
# Libraries that log every study and plugin set-up at INFO; their warnings still show.
CHATTY_LOGGERS = ("optuna", "alembic")


class BestTrialReport(Callback):
    """At the end of a search, writes `best_trial.json` and logs the selected trial's test accuracy."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        for name in CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        try:
            import optuna

            optuna.logging.set_verbosity(optuna.logging.WARNING)
        except ImportError:
            pass

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        trials = [(d, read_run(d)) for d in sorted(sweep_dir.iterdir()) if d.is_dir()]
        finished = [(d, record) for d, record in trials if record is not None and record.completed]
        if not finished:
            log.warning("No trial of %s finished: no best trial to report", sweep_dir)
            return
        trial_dir, best = max(finished, key=lambda trial: trial[1].final_acc)
        report = {
            "trial": trial_dir.name,
            "selected_on": best.eval_split,
            "selection_acc": best.final_acc,
            "test_acc": best.final_test_acc,
            "trials": len(trials),
            "finished_trials": len(finished),
            "overrides": yaml.safe_load((trial_dir / ".hydra" / "overrides.yaml").read_text()),
        }
        write_json(sweep_dir / BEST_TRIAL_FILE, report)
        log.info(
            "Best of %d trials: %s, %s accuracy %.4f (maximised), test accuracy %.4f (reported, not used)",
            len(finished), trial_dir.name, best.eval_split, best.final_acc, best.final_test_acc,
        )  # fmt: skip
