"""results.json: everything a sweep report needs from one run, written atomically."""

from __future__ import annotations

import json
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from mnist1d.atomic import atomic_open

RESULTS_FILE = "results.json"
STATUS_OK, STATUS_FAILED, STATUS_INTERRUPTED = "ok", "failed", "interrupted"
LIBRARIES = ("torch", "pytorch-lightning", "torchmetrics", "hydra-core", "numpy", "wandb", "mnist1d-lab")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write through a temporary file and rename, so readers never see a half-written file."""
    with atomic_open(path, "w") as file:
        json.dump(payload, file, indent=2)


def read_results(run_dir: Path) -> dict[str, Any] | None:
    """The run's results, or None when the run has not written (valid) results."""
    try:
        return json.loads((run_dir / RESULTS_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
