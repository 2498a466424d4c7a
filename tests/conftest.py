"""Shared fixtures: compose the real Hydra configs into a temporary run directory."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

import mnist1d.training  # noqa: F401 - registers the config resolvers

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One dataset cache for the whole test session, so each dataset is generated once."""
    return tmp_path_factory.mktemp("cache")


def compose_train(overrides: list[str], output_dir: Path, cache_dir: Path) -> DictConfig:
    """The config `python train.py <overrides>` would run, writing into `output_dir`."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[f"paths.output_dir={output_dir}", f"paths.cache_dir={cache_dir}", *overrides],
            return_hydra_config=True,
        )
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg.hydra
    return cfg


@pytest.fixture
def make_cfg(tmp_path: Path, cache_dir: Path) -> Callable[..., DictConfig]:
    """Compose a quiet (CSV-only) training config; `run=` picks the run directory name under tmp_path."""

    def make(*overrides: str, run: str = "run") -> DictConfig:
        return compose_train(["logger=csv", *overrides], tmp_path / run, cache_dir)

    return make


def read_results(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "results.json").read_text())
