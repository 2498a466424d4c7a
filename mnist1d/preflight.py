"""Refuse a bad config before Hydra creates the run directory: a Hydra callback that each command's root
config names (`hydra.callbacks.preflight`, with that command's `validate`).

Hydra creates the run directory and writes `.hydra/` and the log there before the task starts, so a check
inside the task comes too late: a refused config would leave a directory behind, and one whose run
directory is the problem (`run_name=../../x`, the human app's `name=../../runs/<run>`, `resume=<a training
run>`) would already have written outside `outputs/` or into another run. `Preflight.on_run_start` runs
the command's `validate` on the job's config as the task will see it, then creates the run directory,
so one that cannot be created (under a file, in /proc) is a one-line refusal too. A multirun creates its
sweep directory here; each of its jobs validates its own config (mnist1d/errors.py).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.utils import get_method
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from omegaconf.errors import OmegaConfBaseException

from mnist1d.errors import reported_as_message
from mnist1d.locks import multirun_dir


def job_config(config: DictConfig, run_dir: Path | None) -> DictConfig:
    """The config the task will be given (as Hydra's `run_job` makes it): the run directory recorded as
    `hydra.runtime.output_dir` for `${hydra:...}` interpolations, then the `hydra` node removed."""
    config = copy.deepcopy(config)
    if run_dir is not None:
        with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
            config.hydra.runtime.output_dir = str(run_dir.absolute())
    HydraConfig.instance().set_config(config)
    job = copy.deepcopy(config)
    with read_write(job), open_dict(job):
        del job["hydra"]
    return job


def creatable_dir(path: Any) -> bool:
    """An existing directory this user may write, or a path whose first existing ancestor is one (no file
    on the way); nothing is created (`make_dir` creates one)."""
    path = Path(str(path)).absolute()
    existing = next(folder for folder in (path, *path.parents) if folder.exists())
    return existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)


def make_dir(path: Path, key: str) -> None:
    """Create directory `path` and its missing parents, or raise a ValueError naming `key`; a failure leaves
    no directory behind."""
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        if folder.exists():
            raise ValueError(f"{key}={path} is invalid: {folder} is a file, not a directory")
        missing.append(folder)
    created: list[Path] = []
    try:
        for folder in reversed(missing):
            folder.mkdir()
            created.append(folder)
    except OSError as error:
        for folder in reversed(created):
            folder.rmdir()
        reason = f"cannot create {error.filename}: {error.strerror}"
        raise ValueError(f"{key}={path} is invalid: {reason}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"{key}={path} is invalid: this user may not write there")


class Preflight(Callback):
    """Validates a single run's config and creates its run directory before Hydra does anything else;
    `validate` is the dotted name of the command's `validate(cfg)`, which raises a ValueError naming the
    field, its value and what is allowed."""

    def __init__(self, validate: str) -> None:
        self.validate = validate

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            run_dir = Path(str(OmegaConf.select(config, "hydra.run.dir")))
        except OmegaConfBaseException:  # e.g. a missing ckpt_path= in it: `validate` says what is wrong
            run_dir = None
        with reported_as_message(ValueError):
            get_method(self.validate)(job_config(config, run_dir))
            if run_dir is not None:  # else Hydra reports why it cannot resolve it, before creating anything
                make_dir(run_dir, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        with reported_as_message(ValueError):
            make_dir(Path(str(multirun_dir(config))), "hydra.sweep.dir")
