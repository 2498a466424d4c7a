"""Shared fixtures: one dataset cache per session, and the real Hydra configs composed into tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig

from tests.helpers import compose_run

GPU_MARKER = "gpu: needs a CUDA GPU, skipped without one (`pytest -m gpu` runs only these)"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", GPU_MARKER)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the GPU tests where there is no CUDA device, saying so."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (none here)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


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
