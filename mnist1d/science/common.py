"""What the experiment reports share: picking finished runs, grouping seeds, writing figures and numbers."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from omegaconf import OmegaConf

from mnist1d.atomic import atomic_open
from mnist1d.report import published_results
from mnist1d.results import STATUS_OK, write_json


def finished(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs that completed: failed or interrupted runs would bias means, so they are left out."""
    return [row for row in rows if row.get("status") == STATUS_OK and row.get("final_acc") is not None]


def setting(row: dict[str, Any], key: str) -> Any:
    """A value of the run's resolved config by dotted key (e.g. `model.pooling`)."""
    return OmegaConf.select(OmegaConf.create(row["config"]), key)


def summary(values: list[float]) -> dict[str, Any]:
    """Mean, sample standard deviation (0 for one seed) and the values themselves."""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "std": std, "n": len(values), "values": values}


def published(section: str) -> dict[str, Any]:
    """A section of the published numbers shipped with the package (mnist1d/published_results.json)."""
    return published_results()[section]


def save_figure(fig: Figure, out_dir: Path, stem: str) -> list[Path]:
    """Save `fig` as PNG and PDF, each written to a temporary file and renamed (readers never see half)."""
    paths = []
    for suffix in (".png", ".pdf"):
        path = out_dir / f"{stem}{suffix}"
        with atomic_open(path) as file:
            fig.savefig(file, format=suffix[1:], dpi=150, bbox_inches="tight")
        paths.append(path)
    return paths


def save_numbers(out_dir: Path, stem: str, numbers: dict[str, Any]) -> Path:
    path = out_dir / f"{stem}.json"
    write_json(path, numbers)
    return path
