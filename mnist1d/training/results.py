"""results.json: what a sweep report needs from one run (written atomically by `atomic.write_json`)."""

from __future__ import annotations

import json
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

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


def read_results(run_dir: Path) -> dict[str, Any] | None:
    """The run's results, or None when the run has not written (valid) results."""
    try:
        return json.loads((run_dir / RESULTS_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
