"""What conf/ takes from Python, registered when this module is imported (before any config is composed).

- the config `mnist1d_generator`: the generator's arguments with their defaults, read from `DatasetConfig`,
  so conf/data/ lists none of them and they keep one source;
- the resolvers `${eval_split:}`, `${sweep_group:}` and `${launcher_threads:}`.
"""

from __future__ import annotations

import os
from pathlib import Path

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf

from mnist1d.dataset_config import DatasetConfig
from mnist1d.training.datamodule import eval_split

GENERATOR_CONFIG = "mnist1d_generator"


def generator_defaults() -> dict[str, object]:
    """`DatasetConfig`'s generator arguments as plain config values (the padding pair as a list)."""
    args = DatasetConfig().generator_args()
    return {name: list(value) if isinstance(value, tuple) else value for name, value in args.items()}


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


ConfigStore.instance().store(name=GENERATOR_CONFIG, node=generator_defaults())
OmegaConf.register_new_resolver("eval_split", eval_split, replace=True)
OmegaConf.register_new_resolver("sweep_group", sweep_group, replace=True)
OmegaConf.register_new_resolver("launcher_threads", launcher_threads, replace=True)
