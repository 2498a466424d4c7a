"""Shared fixtures: one dataset cache per session, and the real Hydra configs composed into tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig

from tests.helpers import compose_run


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One dataset cache for the whole test session, so each dataset is generated once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def make_cfg(tmp_path: Path, cache_dir: Path) -> Callable[..., DictConfig]:
    """Compose a quiet (CSV-only) training config; `run=` picks the run directory name under tmp_path."""

    def make(*overrides: str, run: str = "run") -> DictConfig:
        return compose_run(["logger=csv", *overrides], tmp_path / run, cache_dir)

    return make
