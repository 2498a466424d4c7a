"""Shared fixtures: compose the real Hydra configs into a temporary run directory."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from omegaconf import DictConfig

import mnist1d.training  # noqa: F401 - registers the config resolvers
from mnist1d.compose import compose_train

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One dataset cache for the whole test session, so each dataset is generated once."""
    return tmp_path_factory.mktemp("cache")


def compose_run(overrides: list[str], output_dir: Path, cache_dir: Path) -> DictConfig:
    """The config `python train.py <overrides>` would run, writing into `output_dir`."""
    return compose_train([f"paths.output_dir={output_dir}", f"paths.cache_dir={cache_dir}", *overrides])


@pytest.fixture
def make_cfg(tmp_path: Path, cache_dir: Path) -> Callable[..., DictConfig]:
    """Compose a quiet (CSV-only) training config; `run=` picks the run directory name under tmp_path."""

    def make(*overrides: str, run: str = "run") -> DictConfig:
        return compose_run(["logger=csv", *overrides], tmp_path / run, cache_dir)

    return make


def read_results(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "results.json").read_text())
