"""What every report shares: picking finished runs, statistics over seeds, the published numbers, evaluation
histories, and writing numbers (figures: `mnist1d.atomic.save_figure`).

Two protocols are reported side by side wherever a paper is compared: the accuracy at the final step
(`final_acc`; Beebe et al. read their numbers at the step) and the best accuracy over the run's evaluations
(`best_acc`; Greydanus & Kobak report early-stopped accuracy, "early stopping applied to select the
best-performing model", on the test split as their code does).
"""

from __future__ import annotations

import csv
import json
import statistics
from collections.abc import Iterable, Sequence
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from mnist1d.atomic import write_json
from mnist1d.records import STATUS_OK

# The two ways a run's accuracy is read: row key -> how tables and figures name it.
PROTOCOLS = {"final_acc": "final", "best_acc": "best during training"}


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
    """A value of the run's resolved config by dotted key (e.g. `model.pooling`), None where absent. Read
    as plain data: the config comes from a file, so nothing in it is resolved or built."""
    value: Any = row["config"]
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def seed_stats(values: Sequence[float]) -> dict[str, Any]:
    """Mean, sample standard deviation (0 for one seed), count and the values themselves."""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "std": std, "n": len(values), "values": list(values)}


def error_bar(stat: dict[str, Any]) -> float | None:
    """The std to draw as an error bar, or None for a single run (no zero-width bar)."""
    return stat["std"] if stat["n"] > 1 else None


def cell(stat: dict[str, Any] | None, digits: int = 1) -> str:
    """A table cell: `mean ± std (n=k)`, or `mean (n=1)` for a single run."""
    if stat is None:
        return "—"
    if stat["n"] == 1:
        return f"{stat['mean']:.{digits}f} (n=1)"
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f} (n={stat['n']})"


def distance(stat: dict[str, Any], reference: float) -> dict[str, Any]:
    """Ours minus a published number, in points and in our standard deviations (None for one run)."""
    delta = stat["mean"] - reference
    in_std = delta / stat["std"] if stat["n"] > 1 and stat["std"] > 0 else None
    return {"published": reference, "ours": stat["mean"], "delta": delta, "delta_in_std": in_std}


def evaluation_history(sweep_dir: Path, row: dict[str, Any], split: str) -> list[tuple[int, float]]:
    """(step, accuracy) of every evaluation of `split` (`test`, `val` or `train_split`) up to the row's steps.

    From the run's results.json history when it records that split; otherwise from its CSV log
    (`csv/metrics.csv`, written by every run), where every logged metric is.
    """
    key = f"{split}/acc"
    points = [(int(r["step"]), float(r[key])) for r in row["history"] if key in r]
    if not points and row.get("source_run"):
        path = sweep_dir / row["source_run"] / "csv" / "metrics.csv"
        if path.exists():
            with path.open() as file:
                points = [(int(float(r["step"])), float(r[key])) for r in csv.DictReader(file) if r.get(key)]
    limit = row.get("steps") or float("inf")
    return sorted({step: acc for step, acc in points if step <= limit}.items())


def save_numbers(out_dir: Path, stem: str, numbers: dict[str, Any]) -> Path:
    path = out_dir / f"{stem}.json"
    write_json(path, numbers)
    return path


def prediction_interval(
    values: Sequence[float], runs: int = 1, level: float = 0.95
) -> tuple[float, float] | None:
    """Where the mean of `runs` new runs falls with probability `level`, from our runs' `values`:
    mean ± t(n - 1) · sd · √(1/runs + 1/n). A published number is one run (`runs=1`) or the mean of a few;
    None for fewer than two of ours."""
    n = len(values)
    if n < 2:
        return None
    from scipy.stats import t  # lazy: reports that compare no published number need no scipy

    mean, sd = statistics.fmean(values), statistics.stdev(values)
    half = t.ppf((1 + level) / 2, n - 1) * sd * (1 / runs + 1 / n) ** 0.5
    return float(mean - half), float(mean + half)


def interval_verdict(published_value: float, interval: tuple[float, float] | None) -> str:
    """`inside` or `outside` the prediction interval (`—` without one)."""
    if interval is None:
        return "—"
    return "inside" if interval[0] <= published_value <= interval[1] else "outside"
