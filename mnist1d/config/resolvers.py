"""What conf/ takes from Python, registered when this module is imported (`compose` imports it, so every
command and every composed config has them).

- the config `mnist1d_generator`: the generator's arguments with their defaults, read from `DatasetConfig`,
  so conf/train/data/ lists none of them and they keep one source;
- the resolvers `${eval_split:}`, `${sweep_group:}`, `${default_threads:}`, `${progress_bar:}` and
  `${run_length:}`.
"""

from __future__ import annotations

import os
from pathlib import Path

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from mnist1d.config.splits import eval_split
from mnist1d.dataset_config import DatasetConfig
from mnist1d.errors import in_multirun

GENERATOR_CONFIG = "mnist1d_generator"


def generator_defaults() -> dict[str, object]:
    """`DatasetConfig`'s generator arguments as plain config values (the padding pair as a list)."""
    args = DatasetConfig().generator_args()
    return {name: list(value) if isinstance(value, tuple) else value for name, value in args.items()}


def sweep_group() -> str | None:
    """The sweep directory's name in a multirun job (so W&B groups a sweep's runs), None in a single run."""
    return Path(HydraConfig.get().sweep.dir).name if in_multirun() else None


def cpu_share(parallel_jobs: int) -> int:
    """CPU threads per job when `parallel_jobs` run at once (-1 or 0: one job per core), at least one."""
    cores = os.cpu_count() or 1
    jobs = cores if parallel_jobs <= 0 else parallel_jobs
    return max(1, cores // jobs)


def default_threads() -> int | None:
    """torch threads of a job: in a multirun its launcher's share (joblib's cores // n_jobs, submitit's
    cpus_per_task); otherwise half the cores, at most 4: the small nets here lose more to thread contention
    on a busy machine than they gain from more threads on an idle one."""
    if not in_multirun():
        return min(4, max(1, (os.cpu_count() or 1) // 2))
    launcher = HydraConfig.get().launcher
    if launcher.get("n_jobs") is not None:
        return cpu_share(launcher.n_jobs)
    return launcher.get("cpus_per_task")


def progress_bar() -> bool:
    """Draw a progress bar unless jobs of a multirun run in parallel (their bars would interleave)."""
    if not in_multirun():
        return True
    launcher = HydraConfig.get().launcher
    one_at_a_time = str(launcher.get("_target_")).endswith(("BasicLauncher", "StackedLauncher"))
    return launcher.get("n_jobs") == 1 or one_at_a_time


def checkpoint_run(ckpt_path: str) -> str:
    """The run a checkpoint belongs to: its run directory's name (`<run>/checkpoints/best.ckpt`)."""
    path = Path(str(ckpt_path))
    return path.parent.parent.name if path.parent.name == "checkpoints" else path.stem


def run_length(trainer: DictConfig) -> str:
    """How long a run trains, for its name: `6000steps`, `20epochs`, `6000steps-20epochs` (whichever comes
    first) or `fast_dev_run`."""
    if trainer.get("fast_dev_run"):
        return "fast_dev_run"
    steps, epochs = trainer.get("max_steps"), trainer.get("max_epochs")
    parts = [
        f"{steps}steps" if steps not in (None, -1) else "",
        f"{epochs}epochs" if epochs not in (None, -1) else "",
    ]
    return "-".join(part for part in parts if part) or "unlimited"


ConfigStore.instance().store(name=GENERATOR_CONFIG, node=generator_defaults())
OmegaConf.register_new_resolver("eval_split", eval_split, replace=True)
OmegaConf.register_new_resolver("sweep_group", sweep_group, replace=True)
OmegaConf.register_new_resolver("default_threads", default_threads, replace=True)
OmegaConf.register_new_resolver("progress_bar", progress_bar, replace=True)
OmegaConf.register_new_resolver("run_length", run_length, replace=True)
OmegaConf.register_new_resolver("checkpoint_run", checkpoint_run, replace=True)
