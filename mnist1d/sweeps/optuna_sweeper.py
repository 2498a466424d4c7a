"""Hyperparameter search, a Hydra sweeper on Optuna's ask-and-tell API (`train.py -m hparams_search=optuna`).

Our own because Hydra's Optuna plugin (hydra-optuna-sweeper, up to its newest release) pins optuna<3. Each
batch of `n_jobs` trials is asked from the study, launched as train.py jobs through whichever Hydra launcher
is configured (basic, joblib, submitit, ...), and each job's result (its final validation accuracy) is told.

- The study is stored: `sqlite:///<sweep dir>/optuna.db` unless `storage` names another Optuna storage URL,
  so a search can be watched (`optuna-dashboard <url>`) and resumed: `resume=<sweep dir>` continues the same
  study to `n_trials` trials in all. Finished trials are never run again; a trial that a stopped search left
  running is launched again with its own parameters into its own job directory, where the job skips
  (completed) or resumes from its checkpoint (`skip_completed=true`).
- With a pruner (`hydra/sweeper/pruner=median`), every job reports its evaluations to its trial and stops
  early when the pruner says so (mnist1d/sweeps/pruning.py); such a trial counts as pruned.
- Trials are selected on the validation split (the preset holds 10 % of the training data out); the best
  trial's test accuracy is reported beside it, never used for the choice (`best_trial.json`, sweeps/hpo.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import CompactHydraException
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, read_write

from mnist1d.atomic import write_text
from mnist1d.extras import require
from mnist1d.sweeps.hpo import write_best_trial

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)
STORAGE_FILE = "optuna.db"
PRUNED_AT = "pruned_at_step"  # the user attribute by which a job tells that its trial was pruned
# Libraries that log every study and plugin set-up at INFO; their warnings still show.
CHATTY_LOGGERS = ("optuna", "alembic")


class SearchError(CompactHydraException):
    """A search that cannot start or go on; Hydra prints its message without a traceback."""


def distribution(override: Override) -> optuna.distributions.BaseDistribution | None:
    """The Optuna distribution of a sweep written in Hydra's override grammar, or None for a fixed value:
    `choice(a, b)` categorical, `range(4, 128)` integers (stop excluded, as in Python), `interval(1e-4, 0.1)`
    floats, `tag(log, ...)` on a log scale."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    value = override.value()
    if isinstance(value, ChoiceSweep):
        return CategoricalDistribution(list(override.sweep_iterator()))
    log_scale = "log" in getattr(value, "tags", ())
    if isinstance(value, RangeSweep):
        values = list(override.sweep_iterator())
        if not all(isinstance(v, int) for v in values):
            raise SearchError(f"{override.input_line}: a range searched by Optuna must hold integers")
        step = 1 if log_scale else int(value.step)
        return IntDistribution(min(values), max(values), log=log_scale, step=step)
    if isinstance(value, IntervalSweep):
        return FloatDistribution(value.start, value.end, log=log_scale)
    return None


def consecutive(numbers: Sequence[int]) -> Iterator[list[int]]:
    """Runs of consecutive trial numbers: each is launched as one batch whose job numbers are the trials'."""
    run: list[int] = []
    for number in sorted(numbers):
        if run and number != run[-1] + 1:
            yield run
            run = []
        run.append(number)
    if run:
        yield run


class OptunaSweeper(Sweeper):
    """Hydra's `hydra/sweeper=optuna` (conf/train/hydra/sweeper/optuna.yaml); Hydra finds it under the name
    registered in hydra_plugins/mnist1d_lab/optuna_sweeper.py."""

    def __init__(
        self,
        study_name: str,
        n_trials: int,
        n_jobs: int,
        direction: str,
        storage: str | None,
        sampler: DictConfig | None,
        pruner: DictConfig | None,
        params: DictConfig | None,
    ) -> None:
        self.study_name, self.n_trials, self.n_jobs, self.direction = study_name, n_trials, n_jobs, direction
        self.storage, self.sampler, self.pruner = storage, sampler, pruner
        self.params = OmegaConf.to_container(params) if params else {}
        self.hydra_context: HydraContext | None = None
        self.config: DictConfig | None = None
        self.launcher = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        require("optuna", "hparams_search=optuna")
        resume = config.get("resume")
        if resume is not None:
            if not (Path(resume) / "multirun.yaml").is_file():
                raise SearchError(f"resume={resume!r} is not a search directory (it has no multirun.yaml)")
            with read_write(config.hydra):
                config.hydra.sweep.dir = str(resume)
        if config.eval_split != "val":
            raise SearchError(
                "hparams_search=optuna selects trials on a validation split, never on the test split: "
                f"data.val_fraction={config.data.val_fraction} must be > 0"
            )
        for name in ("n_trials", "n_jobs"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise SearchError(f"hydra.sweeper.{name}={getattr(self, name)!r} must be an integer >= 1")
        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> optuna.Study:
        import optuna

        assert self.config is not None and self.hydra_context is not None
        for name in CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        if self.config.get("resume") is not None:
            arguments = self.resumed_arguments(sweep_dir, arguments)
        else:
            sweep_dir.mkdir(parents=True, exist_ok=True)
            write_text(sweep_dir / "multirun.yaml", OmegaConf.to_yaml(self.config))
        storage = self.storage or f"sqlite:///{(sweep_dir / STORAGE_FILE).resolve()}"
        fixed, space = self.search_space(arguments)
        study = optuna.create_study(
            study_name=self.study_name,
            storage=storage,
            sampler=instantiate(self.sampler) if self.sampler else None,
            pruner=self.make_pruner(),
            direction=self.direction,
            load_if_exists=True,
        )
        if study.trials and self.sampler and self.sampler.get("seed") is not None:
            # with the first run's seed, a resumed sampler would draw that run's first parameters again
            study.sampler = instantiate(self.sampler, seed=self.sampler.seed + len(study.trials))
        # Every trial runs in its job directory of the sweep, as a resumable job; with a pruner it reports to
        # its trial in the study.
        fixed += [f"hydra.sweep.dir={_override_value(str(sweep_dir))}", "skip_completed=true"]
        left_running = [t.number for t in study.get_trials(states=(optuna.trial.TrialState.RUNNING,))]
        if left_running:
            log.info("Resuming the trials a stopped search left running: %s", left_running)
            for numbers in consecutive(left_running):
                self.run_trials(study, [study.trials[n] for n in numbers], fixed, storage)
        waiting = (optuna.trial.TrialState.WAITING,)  # enqueued (`study.enqueue_trial`): asked first
        while (done := len(study.trials) - len(study.get_trials(states=waiting))) < self.n_trials:
            batch = [study.ask(space) for _ in range(min(self.n_jobs, self.n_trials - done))]
            self.run_trials(study, batch, fixed, storage)
        write_best_trial(sweep_dir, study, storage)
        failed = study.get_trials(states=(optuna.trial.TrialState.FAIL,))
        if failed:
            raise SearchError(
                f"{len(failed)} of {len(study.trials)} trials failed (their results.json says why): "
                + ", ".join(str(t.number) for t in failed)
            )
        return study

    def resumed_arguments(self, sweep_dir: Path, arguments: list[str]) -> list[str]:
        """The command-line overrides of the search being resumed (its multirun.yaml), so that its trials,
        finished or not, have the same config; a resume takes no others (hydra.sweeper.* options it does)."""
        original = list(OmegaConf.load(sweep_dir / "multirun.yaml").hydra.overrides.task)
        others = [a for a in arguments if not a.startswith("resume=") and a not in original]
        if others:
            raise SearchError(
                f"resume takes no other train overrides than the search's own ({' '.join(original)}, in "
                f"{sweep_dir / 'multirun.yaml'}); got {' '.join(others)}"
            )
        return original

    def search_space(
        self, arguments: list[str]
    ) -> tuple[list[str], dict[str, optuna.distributions.BaseDistribution]]:
        """The overrides every trial gets, and the searched parameters: `params` of the config, then those
        of the command line (`model.channels=choice(8,16)` searches, `seed=1` is fixed)."""
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        lines = [f"{key}={value}" for key, value in self.params.items()] + list(arguments)
        fixed: dict[str, str] = {}
        space: dict[str, optuna.distributions.BaseDistribution] = {}
        for override in parser.parse_overrides(lines):
            key = override.get_key_element()
            found = distribution(override) if override.is_sweep_override() else None
            if found is None and override.is_sweep_override():
                raise SearchError(f"{override.input_line}: Optuna cannot search this kind of sweep")
            if found is None:
                fixed[key] = override.get_value_element_as_str()
                space.pop(key, None)
            else:
                space[key] = found
                fixed.pop(key, None)
        return [f"{key}={value}" for key, value in fixed.items()], space

    def make_pruner(self) -> optuna.pruners.BasePruner:
        import optuna

        return instantiate(self.pruner) if self.pruner else optuna.pruners.NopPruner()

    def trial_overrides(self, trial: Any, fixed: list[str], storage: str) -> list[str]:
        """A trial's job: the fixed overrides, its parameters and, with a pruner, the pruning callback."""
        overrides = [*fixed, *(f"{key}={_override_value(value)}" for key, value in trial.params.items())]
        if self.pruner:
            callback = {
                "_target_": "mnist1d.sweeps.pruning.OptunaPruning",
                "storage": storage,
                "study_name": self.study_name,
                "trial": trial.number,
                "pruner": OmegaConf.to_container(self.pruner),
            }
            overrides.append(f"+callbacks.optuna_pruning={_override_value(callback)}")
        return overrides

    def run_trials(self, study: optuna.Study, trials: Sequence[Any], fixed: list[str], storage: str) -> None:
        """Launch trials (consecutive numbers) as one batch of jobs numbered like them; tell their results."""
        import optuna

        overrides = [self.trial_overrides(trial, fixed, storage) for trial in trials]
        self.validate_batch_is_legal(overrides)
        returns: Sequence[JobReturn] = self.launcher.launch(overrides, initial_job_idx=trials[0].number)
        for trial, job in zip(trials, returns, strict=True):
            pruned_at = study.trials[trial.number].user_attrs.get(PRUNED_AT)
            if job.status != JobStatus.COMPLETED or job.return_value is None:
                state, value = optuna.trial.TrialState.FAIL, None
            elif pruned_at is not None:
                state, value = optuna.trial.TrialState.PRUNED, None
            else:
                state, value = optuna.trial.TrialState.COMPLETE, job.return_value
            study.tell(trial.number, value, state=state)
            outcome = f"{value:.4f}" if value is not None else state.name.lower()
            log.info("Trial %d: %s  %s", trial.number, outcome, trial.params)


def _override_value(value: Any) -> str:
    """A value as Hydra's override grammar writes it (strings quoted where needed, dicts and lists)."""
    if isinstance(value, str):
        return repr(value) if any(c in value for c in " ,:=()[]{}'\"") else value
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_override_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_override_value(v) for v in value) + "]"
    return "null" if value is None else str(value)
