"""`hydra/launcher=stacked`: the jobs of a multirun that differ only in `seed` train as one stack.

Hydra's basic launcher runs the jobs one after another in this process; this launcher does the same, except
that the jobs of one configuration that differ only in `seed` (`python train.py -m model=cnn seed=0,1,2`)
train together as one stacked net when `refusal` (stackable.py) allows it on their device. Each member is
still its own job: Hydra sets up its job directory (`.hydra/`, `train.log`) and its `JobReturn` as for any
job, and the stack writes each member's results.json, checkpoints and logger rows there (fit.py). Where a
group cannot or should not be stacked, its jobs run one by one as the basic launcher runs them, and one log
line says why. Only train.py's jobs are stacked.

This module imports only Hydra: Hydra imports every launcher plugin whenever it composes a config.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)
SEED = "seed"
TRAIN_JOB = "train"  # hydra.job.name of train.py's jobs (conf/train/hydra/default.yaml)


@dataclass
class Job:
    """One job of the launch: its number, its overrides and, once Hydra has set it up, its config."""

    num: int
    overrides: Sequence[str]
    config: DictConfig | None = None  # the job's config, with its `hydra` node
    task_cfg: DictConfig | None = None  # what the task function would receive, resolved
    job_return: JobReturn | None = None


class NoJobCallbacks:
    """Hydra's job callbacks when a member's job directory is set up: its callbacks run around the stack's
    training instead, when the job really starts and ends."""

    def on_job_start(self, **kwargs: Any) -> None:
        pass

    def on_job_end(self, **kwargs: Any) -> None:
        pass


def stack_key(overrides: Sequence[str]) -> tuple[str, ...]:
    """What a job's overrides say besides its seed: jobs with the same key differ only in `seed`."""
    parsed = OverridesParser.create().parse_overrides(list(overrides))
    return tuple(sorted(o.input_line for o in parsed if o.get_key_element().lstrip("+~") != SEED))


def groups(jobs: Sequence[Job]) -> list[list[Job]]:
    """The jobs grouped by `stack_key`, in the order of each group's first job."""
    found: dict[tuple[str, ...], list[Job]] = {}
    for job in jobs:
        found.setdefault(stack_key(job.overrides), []).append(job)
    return list(found.values())


def job_numbers(jobs: Sequence[Job]) -> str:
    return ", ".join(f"#{job.num}" for job in jobs)


class StackedLauncher(Launcher):
    """Runs a multirun's jobs in this process, the seeds of each configuration as one stack (module doc).

    `max_flops_per_sample` maps a device type (`cpu`, `cuda`, `mps`) to the largest training step, in
    FLOPs per sample, that is stacked on it (None: any): a larger step is compute-bound, and stacking it
    only adds the cost of the batched kernels (README, Performance).
    """

    def __init__(self, max_flops_per_sample: Mapping[str, float | None] | None = None) -> None:
        super().__init__()
        self.max_flops_per_sample = dict(max_flops_per_sample or {})
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        log.info(
            "Launching %d jobs locally, the seeds of each configuration as one stack", len(job_overrides)
        )
        jobs = [Job(initial_job_idx + i, overrides) for i, overrides in enumerate(job_overrides)]
        for job in jobs:
            log.info("\t#%d : %s", job.num, " ".join(filter_overrides(job.overrides)))
        for group in groups(jobs) if self.config.hydra.job.name == TRAIN_JOB else [[job] for job in jobs]:
            self._run_group(group)
        return [job.job_return for job in jobs]

    def _run_group(self, group: list[Job]) -> None:
        """The group as one stack when its first job's config may be stacked (the others differ only in
        their seed), else its jobs one by one."""
        if len(group) == 1:
            self._run_one(group[0])
            return
        self._set_up(group[0])
        reason = self._refusal(group[0].task_cfg) if group[0].task_cfg is not None else "its config fails"
        if reason is None:
            for job in group[1:]:
                self._set_up(job)
            failing = [job for job in group if job.task_cfg is None]
            reason = f"the config of job #{failing[0].num} fails" if failing else None
        if reason is not None:
            log.info("Jobs %s run one by one, not stacked: %s", job_numbers(group), reason)
            for job in group:
                self._run_one(job)
            return
        seeds = [job.task_cfg.seed for job in group]
        log.info("Jobs %s (seeds %s) train as one stack", job_numbers(group), seeds)
        self._run_stack(group)

    def _refusal(self, task_cfg: DictConfig) -> str | None:
        from mnist1d.training.stacked.stackable import refusal

        return refusal(task_cfg, self.max_flops_per_sample)

    def _sweep_config(self, job: Job) -> DictConfig:
        sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(job.overrides))
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = job.num
            sweep_config.hydra.job.num = job.num
        return sweep_config

    def _run_one(self, job: Job) -> None:
        """The job as the basic launcher runs it."""
        job.job_return = run_job(
            hydra_context=self.hydra_context,
            task_function=self.task_function,
            config=self._sweep_config(job),
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)

    def _set_up(self, job: Job) -> None:
        """Let Hydra set up the member's job (its directory, `.hydra/`, its config with `hydra.runtime`) and
        keep the config its task function would receive, resolved while Hydra's config is this job's."""

        def resolved(task_cfg: DictConfig) -> DictConfig:
            OmegaConf.resolve(task_cfg)
            return task_cfg

        job.config = self._sweep_config(job)
        job.job_return = run_job(
            hydra_context=replace(self.hydra_context, callbacks=NoJobCallbacks()),
            task_function=resolved,
            config=job.config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
        job.task_cfg = job.job_return.return_value if job.job_return.status == JobStatus.COMPLETED else None

    def _run_stack(self, group: list[Job]) -> None:
        """Train the group as one stack; each member's JobReturn gets its own outcome."""
        for job in group:
            HydraConfig.instance().set_config(job.config)
            self.hydra_context.callbacks.on_job_start(config=job.config, task_function=self.task_function)
        cfgs = [job.task_cfg for job in group]
        with logging_to([Path(cfg.paths.output_dir) for cfg in cfgs]):
            outcomes = stack_outcomes(cfgs, Path(self.config.hydra.sweep.dir))
        for job, outcome in zip(group, outcomes, strict=True):
            failed = isinstance(outcome, BaseException)
            job.job_return.status = JobStatus.FAILED if failed else JobStatus.COMPLETED
            job.job_return.return_value = outcome
            HydraConfig.instance().set_config(job.config)
            self.hydra_context.callbacks.on_job_end(config=job.config, job_return=job.job_return)
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)


def stack_outcomes(cfgs: list[DictConfig], sweep_dir: Path) -> list[Any]:
    """Each member's outcome of training the stack of `cfgs`: its final accuracy or its error. An error of
    the whole stack is every member's; one that stops the stack before it could write the members' results
    is recorded in their results.json, as `run_job` records a job's."""
    from mnist1d.errors import ConfigError, DiskFullError, disk_full, reported_as_message
    from mnist1d.records import read_run, write_run
    from mnist1d.training.job import failure_record
    from mnist1d.training.stacked.fit import train_stack

    try:
        with reported_as_message(ConfigError, DiskFullError):
            try:
                return train_stack(cfgs, sweep_dir)
            except Exception as error:
                for cfg in cfgs:
                    run_dir = Path(cfg.paths.output_dir)
                    if read_run(run_dir) is None and disk_full(error, run_dir) is None:
                        write_run(run_dir, failure_record(cfg, error))
                raise
    except Exception as error:  # as Hydra keeps a failed job's: raised when the multirun ends
        return [error] * len(cfgs)


@contextlib.contextmanager
def logging_to(run_dirs: Sequence[Path]) -> Iterator[None]:
    """Also write this process's log into each member's `train.log` while the stack trains (Hydra set up
    logging for the last member's job only)."""
    root = logging.getLogger()
    file_handlers = [h for h in root.handlers if isinstance(h, logging.FileHandler)]
    formatter = file_handlers[0].formatter if file_handlers else None
    logged = {Path(h.baseFilename) for h in file_handlers}
    added = []
    for run_dir in run_dirs:
        path = run_dir / f"{TRAIN_JOB}.log"
        if path.resolve() not in logged:
            handler = logging.FileHandler(path)
            handler.setFormatter(formatter)
            root.addHandler(handler)
            added.append(handler)
    try:
        yield
    finally:
        for handler in added:
            root.removeHandler(handler)
            handler.close()
