"""What every report shares: picking finished runs, summarising seeds, the published numbers, and writing
numbers (figures: `mnist1d.atomic.save_figure`)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from mnist1d.atomic import write_json
from mnist1d.training.results import STATUS_OK


@cache
def published_results() -> dict[str, Any]:
    """The published numbers (percent) to compare with: mnist1d/reports/published_results.json, their one
    source (the papers and their repositories, see each section's `source`)."""
    return json.loads(files("mnist1d.reports").joinpath("published_results.json").read_text())


def published(section: str) -> Any:
    return published_results()[section]


def finished(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs that completed: failed or interrupted runs would bias means, so they are left out."""
    return [row for row in rows if row.get("status") == STATUS_OK and row.get("final_acc") is not None]


def setting(row: dict[str, Any], key: str) -> Any:
    """A value of the run's resolved config by dotted key (e.g. `model.pooling`)."""
    return OmegaConf.select(OmegaConf.create(row["config"]), key)


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Mean, sample standard deviation (0 for one seed), count and the values themselves."""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "std": std, "n": len(values), "values": list(values)}


def save_numbers(out_dir: Path, stem: str, numbers: dict[str, Any]) -> Path:
    path = out_dir / f"{stem}.json"
    write_json(path, numbers)
    return path
