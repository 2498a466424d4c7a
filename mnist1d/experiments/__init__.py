"""Standalone science experiments (`python -m mnist1d.experiments.<name>`) and what they share.

Each experiment is a Hydra app over `conf/experiments/<name>.yaml`: it loads the dataset from the common
cache, writes `<name>.json` and its figures (PNG + PDF) into the Hydra run directory, and logs the same
numbers and figures to W&B (offline without credentials) like any training run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mnist1d.config import DatasetConfig
from mnist1d.data import load_dataset
from mnist1d.results import library_versions, write_json


def dataset_tensors(data_cfg: DictConfig, cache_dir: str) -> dict[str, torch.Tensor]:
    """The dataset described by a `conf/data` config as float32 inputs and int64 labels."""
    data = load_dataset(DatasetConfig.from_args(data_cfg), cache_dir)
    return {
        key: torch.as_tensor(
            np.asarray(data[key]), dtype=torch.int64 if key.startswith("y") else torch.float32
        )
        for key in ("x", "y", "x_test", "y_test")
    }


def save_figure(fig: Any, out_dir: Path, name: str) -> Path:
    """Save `fig` as `<name>.png` and `<name>.pdf` in `out_dir`; returns the PNG path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{name}.png"
    fig.savefig(png, dpi=150, bbox_inches="tight")
    fig.savefig(out_dir / f"{name}.pdf", bbox_inches="tight")
    return png


class Report:
    """Collects an experiment's numbers and figures; `close` writes `<name>.json` and logs both to W&B."""

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
        self.figures[name] = save_figure(fig, self.out_dir, name)

    def close(self, numbers: dict[str, Any]) -> dict[str, Any]:
        """Write the JSON (numbers, CPU and wall time, figures, versions, config) and finish the W&B run."""
        payload = {
            "experiment": self.name,
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
