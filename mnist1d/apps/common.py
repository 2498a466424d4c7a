"""What the standalone apps (`python -m mnist1d.apps.<name>`) share.

Each app is a Hydra app over `conf/apps/<name>.yaml`: it checks its config against `APP_RULES` and its own
`RULES` (see mnist1d/rules.py; `positive` makes the common one) before Hydra creates its run directory (the
config's preflight callback, mnist1d/preflight.py), loads the dataset from the common cache, writes
`<name>.json` and its figures (PNG + PDF) into the Hydra run directory, and logs the same numbers and
figures to W&B (offline without credentials) like any training run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mnist1d.atomic import save_figure, write_json
from mnist1d.config.compose import APPS_CONF
from mnist1d.data import load_dataset
from mnist1d.dataset_config import DatasetConfig
from mnist1d.preflight import creatable_dir
from mnist1d.records import library_versions
from mnist1d.rules import Rule, is_int, is_number, problems
from mnist1d.training.validation import (
    MAX_THREADS,
    RUN_NAME,
    is_run_name,
    number_problems,
    unknown_keys,
    unnamed,
)

# The fields several apps have, with the same meaning as train.py's.
APP_RULES = (
    Rule("seed", "an integer in [0, 2**32)", lambda v: is_int(v) and 0 <= v < 2**32),
    Rule("threads", f"an integer in [1, {MAX_THREADS}]", lambda v: is_int(v) and 1 <= v <= MAX_THREADS),
    Rule("run_name", RUN_NAME, is_run_name),
    Rule("paths.cache_dir", "a directory, or a path where one can be created", creatable_dir, required=True),
)


def dataset_tensors(data_cfg: DictConfig, cache_dir: str) -> dict[str, torch.Tensor]:
    """The dataset described by a `conf/data` config as float32 inputs and int64 labels."""
    data = load_dataset(DatasetConfig.from_args(data_cfg), cache_dir)
    return {
        key: torch.as_tensor(
            np.asarray(data[key]), dtype=torch.int64 if key.startswith("y") else torch.float32
        )
        for key in ("x", "y", "x_test", "y_test")
    }


def check_app(cfg: DictConfig, name: str) -> None:
    """Raise a ValueError for what no app can use: a key that conf/apps/<name>.yaml does not define (added
    with `+key=...`), a field of `APP_RULES` that breaks its rule, or a number that is infinite or beyond 64
    bits."""
    found = unknown_keys(cfg, name, APPS_CONF) + problems(APP_RULES, cfg)
    found += unnamed(number_problems(cfg), found)
    if found:
        raise ValueError(found[0])


def finished_numbers(name: str, run_dir: str | Path) -> dict[str, Any]:
    """The numbers a finished run of app `name` wrote (`<run_dir>/<name>.json`), from which `report=<run_dir>`
    re-makes its figures and tables; a directory without them is refused naming `report`."""
    path = Path(run_dir) / f"{name}.json"
    if not path.is_file():
        raise ValueError(
            f"report={str(run_dir)!r} is invalid: must be a run directory of {name} (with {path.name})"
        )
    return json.loads(path.read_text())


def positive(key: str, kind: type = float) -> Rule:
    """The rule (mnist1d/rules.py) of a field that must be a positive number, a whole one for `int`."""
    return Rule(key, f"a positive {kind.__name__}", lambda v: is_number(v) and v > 0 and kind(v) == v)


class Report:
    """Collects an app's numbers and figures; `close` writes `<name>.json` and logs both to W&B."""

    def __init__(self, name: str, cfg: DictConfig) -> None:
        self.name = name
        torch.set_num_threads(cfg.threads)  # these nets are tiny: extra threads mostly add overhead
        self.out_dir = Path(cfg.paths.output_dir)
        self.config = OmegaConf.to_container(cfg, resolve=True)
        self.started = time.process_time()
        self.wall_started = time.perf_counter()
        self.figures: dict[str, Path] = {}
        self.logger = instantiate(cfg.wandb) if cfg.get("wandb") else None
        if self.logger is not None:
            self.logger.log_hyperparams(self.config)

    def log(self, metrics: dict[str, float], step: int) -> None:
        """Log metrics of one (outer) step to W&B."""
        if self.logger is not None:
            self.logger.log_metrics(metrics, step=step)

    def figure(self, fig: Any, name: str) -> None:
        png, _ = save_figure(fig, self.out_dir, name)
        self.figures[name] = png

    def close(self, numbers: dict[str, Any]) -> dict[str, Any]:
        """Write the JSON (numbers, CPU and wall time, figures, versions, config) and finish the W&B run."""
        payload = {
            "app": self.name,
            **numbers,
            "cpu_time_s": time.process_time() - self.started,
            "wall_time_s": time.perf_counter() - self.wall_started,
            "figures": sorted(p.name for p in self.figures.values()),
            "versions": library_versions(),
            "config": self.config,
        }
        write_json(self.out_dir / f"{self.name}.json", payload)
        if self.logger is not None:
            import wandb

            self.logger.experiment.log({name: wandb.Image(str(path)) for name, path in self.figures.items()})
            self.logger.experiment.summary.update(
                {k: v for k, v in payload.items() if isinstance(v, int | float)}
            )
            self.logger.experiment.finish()
        return payload
