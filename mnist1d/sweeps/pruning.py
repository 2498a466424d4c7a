"""Pruning for `hparams_search=optuna`: a trial's job reports every evaluation to its trial in the study and
stops early when the study's pruner says so (e.g. the median pruner: below the median of earlier trials at the
same step). The sweeper (mnist1d/sweeps/optuna_sweeper.py) adds this callback to each job when a pruner is
configured; the job may run in another process or on another machine, so it reaches the study through its
storage."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytorch_lightning as pl

from mnist1d.sweeps.optuna_sweeper import PRUNED_AT

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)


class OptunaPruning(pl.Callback):
    """Reports `<eval split>/acc` at every evaluation to trial number `trial` of the study; when the pruner
    prunes, marks the trial and asks Lightning to stop (its public switch, `trainer.should_stop`), so the run
    ends as usual, with its results and checkpoints, at the step it was pruned."""

    def __init__(self, storage: str, study_name: str, trial: int, pruner: optuna.pruners.BasePruner) -> None:
        import optuna

        storages = optuna.storages.get_storage(storage)
        study = optuna.load_study(study_name=study_name, storage=storages, pruner=pruner)
        trial_id = storages.get_trial_id_from_study_id_trial_number(
            storages.get_study_id_from_name(study_name), trial
        )
        self.trial = optuna.trial.Trial(study, trial_id)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        accuracy = float(trainer.callback_metrics[f"{pl_module.eval_split}/acc"])
        self.trial.report(accuracy, trainer.global_step)
        if self.trial.should_prune():
            self.trial.set_user_attr(PRUNED_AT, trainer.global_step)
            log.info("Trial %d pruned at step %d (%.4f)", self.trial.number, trainer.global_step, accuracy)
            trainer.should_stop = True
