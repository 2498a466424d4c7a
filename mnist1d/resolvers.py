"""The config resolvers conf/ uses: the evaluation split, a multirun job's W&B group and its CPU threads."""

from __future__ import annotations

import os
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf


def eval_split(val_fraction: float) -> str:
    """The split that periodic evaluation reports on: `val` when part of the training split is held out."""
    return "val" if float(val_fraction) > 0 else "test"


def in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def sweep_group() -> str | None:
    """The sweep directory's name in a multirun job (so W&B groups a sweep's runs), None in a single run."""
    return Path(HydraConfig.get().sweep.dir).name if in_multirun() else None


def cpu_share(parallel_jobs: int) -> int:
    """CPU threads per job when `parallel_jobs` run at once (-1 or 0: one job per core), at least one."""
    cores = os.cpu_count() or 1
    jobs = cores if parallel_jobs <= 0 else parallel_jobs
    return max(1, cores // jobs)


def launcher_threads() -> int | None:
    """Threads per job that the multirun's launcher allows: joblib's cores // n_jobs, submitit's
    cpus_per_task; None (torch's default) in a single run or with the sequential basic launcher."""
    if not in_multirun():
        return None
    launcher = HydraConfig.get().launcher
    if launcher.get("n_jobs") is not None:
        return cpu_share(launcher.n_jobs)
    return launcher.get("cpus_per_task")


OmegaConf.register_new_resolver("eval_split", eval_split, replace=True)
OmegaConf.register_new_resolver("sweep_group", sweep_group, replace=True)
OmegaConf.register_new_resolver("launcher_threads", launcher_threads, replace=True)
