"""results.json: everything a sweep report needs from one run, written atomically."""

from __future__ import annotations

import json
import os
import platform
import tempfile
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


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write through a temporary file and rename, so readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as tmp:
        json.dump(payload, tmp, indent=2)
        tmp.flush()
        os.fsync(tmp.fileno())
    os.replace(tmp.name, path)


def read_results(run_dir: Path) -> dict[str, Any] | None:
    """The run's results, or None when the run has not written (valid) results."""
    try:
        return json.loads((run_dir / RESULTS_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
