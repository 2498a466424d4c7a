"""What every report shares: picking finished runs, summarising seeds, judging a published number against
them, the published numbers, evaluation histories, one colour per model, and writing numbers (figures:
`mnist1d.atomic.save_figure`).

Two readings of a run are reported wherever a paper is compared: the accuracy at the final step (`final_acc`;
Beebe et al. read their numbers at the step, the pooling notebook at the last step) and the best accuracy over
the run's evaluations (`best_acc`; Greydanus & Kobak report early-stopped accuracy, "early stopping applied to
select the best-performing model", on the test split as their code does). Each published section of
published_results.json names its reading (`accuracy`), and each number is compared with ours read the same
way.

A published number is one run. It is judged against the 95 % prediction interval for one new run of ours,
mean ± t(n-1, 0.975) · sd · sqrt(1 + 1/n) over our n seeds (`judge`): a published run that falls outside is
unlikely (5 %) under our distribution of runs, if both follow the same protocol.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from collections.abc import Iterable, Sequence
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import scipy.stats

from mnist1d.atomic import write_json
from mnist1d.records import STATUS_OK

# The two ways a run's accuracy is read (a published section's `accuracy`) -> the row key holding it.
READINGS = {"final": "final_acc", "best": "best_acc"}
PI_LEVEL = 0.95


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


def setting(row: dict[str, Any], key: str, default: Any = None) -> Any:
    """A value of the run's resolved config by dotted key (e.g. `model.pooling`), `default` where absent.
    Read as plain data: the config comes from a file, so nothing in it is resolved or built."""
    value: Any = row["config"]
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return default
        value = value[part]
    return value


def protocol_of(rows: Iterable[dict[str, Any]]) -> str:
    """Whose protocol the finished runs followed (`ours` for runs from before `protocol` was recorded),
    `mixed` when they differ."""
    names = {setting(row, "protocol.name", "ours") for row in finished(rows)}
    return names.pop() if len(names) == 1 else "mixed"


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


def prediction_interval(
    stat: dict[str, Any], runs: int = 1, level: float = PI_LEVEL
) -> tuple[float, float] | None:
    """Where the mean of `runs` new runs falls with probability `level`, from our runs' `seed_stats`, if
    runs are normally distributed: mean ± t(n-1, (1 + level) / 2) · sd · sqrt(1/runs + 1/n). A published
    number is one run (`runs=1`) or the mean of a few. None for fewer than two of ours."""
    n = stat["n"]
    if n < 2:
        return None
    half = float(scipy.stats.t.ppf((1 + level) / 2, n - 1)) * stat["std"] * math.sqrt(1 / runs + 1 / n)
    return stat["mean"] - half, stat["mean"] + half


# Our accuracies are float32 fractions as percentages (0.315 -> 31.499999...); a published 31.5 equal to
# every seed's value lies inside a zero-width interval.
SLACK = 1e-4


def judge(stat: dict[str, Any], published_value: float) -> dict[str, Any]:
    """A published number beside our runs: ours, their count and spread, the 95 % prediction interval and
    whether the published number lies inside it (None when there is no interval: one run)."""
    interval = prediction_interval(stat)
    inside = None if interval is None else interval[0] - SLACK <= published_value <= interval[1] + SLACK
    return {
        "published": published_value,
        "ours": stat["mean"],
        "std": stat["std"],
        "n": stat["n"],
        "delta": stat["mean"] - published_value,
        "interval": None if interval is None else list(interval),
        "inside": inside,
    }


def interval_cell(judged: dict[str, Any]) -> str:
    """`[low, high]` of a `judge` result, or — without an interval."""
    if judged["interval"] is None:
        return "—"
    low, high = judged["interval"]
    return f"[{low:.1f}, {high:.1f}]"


def verdict_cell(judged: dict[str, Any]) -> str:
    return {True: "inside", False: "**outside**", None: "—"}[judged["inside"]]


def count_inside(judged: Iterable[dict[str, Any]]) -> str:
    """`k of n inside`, over the judgements that have an interval."""
    with_interval = [j for j in judged if j["inside"] is not None]
    return f"{sum(j['inside'] for j in with_interval)} of {len(with_interval)}"


# One colour per model in every figure: Greydanus & Kobak's own for their four models, then Beebe et al.'s
# and our variants; a model not listed takes the next free colour by name.
MODEL_COLOURS = {
    "logistic": "tab:red",
    "mlp": "tab:green",
    "cnn": "tab:blue",
    "gru": "tab:orange",
    "resnet": "tab:purple",
    "dcnn": "tab:brown",
    "tcn": "tab:olive",
    "tcn_trained": "tab:cyan",
    "tcn_dilated": "tab:pink",
    "mlp_plain": "tab:gray",
    "pool_cnn": "tab:gray",
}
SPARE_COLOURS = ("darkgoldenrod", "teal", "navy", "maroon", "darkkhaki", "slateblue")


def model_colour(model: str) -> str:
    if model in MODEL_COLOURS:
        return MODEL_COLOURS[model]
    return SPARE_COLOURS[sum(map(ord, model)) % len(SPARE_COLOURS)]


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


def interval_verdict(published_value: float, interval: tuple[float, float] | None) -> str:
    """`inside` or `outside` the prediction interval (`—` without one)."""
    if interval is None:
        return "—"
    return "inside" if interval[0] <= published_value <= interval[1] else "outside"
