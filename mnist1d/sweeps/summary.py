"""One row per run of a sweep directory (finished, partial, or a plain `train.py -m` one) and summary.csv.

Row keys (what a sweep's report function receives):
  job, job_dir, model, steps, seed, status ("ok"/"failed"/"interrupted", or "missing": no results.json),
  error, final_acc, best_acc, final_test_acc (fractions), parameters, wall_time_s, steps_per_s,
  shared_budget (True: read at `steps` from the evaluation history of the longer run `source_run`),
  source_run, overrides (the job's `key=value` command-line overrides as a dict), history, config.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import yaml

from mnist1d.atomic import write_text
from mnist1d.records import STATUS_OK, read_run
from mnist1d.sweeps.spec import STEPS_AXIS, SweepSpec

SUMMARY_FILE = "summary.csv"
TIMING_FILE = "timing.json"  # written by sweep.py: how long its jobs took, start to finish
STATUS_MISSING = "missing"
CSV_COLUMNS = (
    "job", "job_dir", "model", "steps", "seed", "status", "final_acc", "best_acc", "final_test_acc",
    "parameters", "wall_time_s", "steps_per_s", "shared_budget", "source_run", "overrides", "error",
)  # fmt: skip
# The row keys read from the run's record as they are (model, steps and seed are its model, max_steps, seed).
RECORD_KEYS = ("status", "error", "final_acc", "best_acc", "final_test_acc", "parameters", "wall_time_s")
RECORD_KEYS += ("steps_per_s", "history", "config")
JOB_DIR = re.compile(r"^(?P<job>\d+)_(?P<model>.+)-(?P<steps>\d+)steps-seed(?P<seed>-?\d+)$")


def job_overrides(job_dir: Path) -> dict[str, str]:
    """The job's command-line overrides, from the `.hydra/overrides.yaml` Hydra writes when a job starts."""
    try:
        lines = yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text()) or []
    except FileNotFoundError:
        return {}
    return dict(line.lstrip("+~").split("=", 1) for line in lines if "=" in line)


def run_row(sweep_dir: Path, job_dir: Path) -> dict[str, Any]:
    """The row of one job directory, from its results.json (or its name when the job left none)."""
    named = JOB_DIR.match(job_dir.name)
    where = job_dir.relative_to(sweep_dir).as_posix()
    row = {"job": int(named["job"]) if named else None, "job_dir": where, "source_run": where}
    row |= {"shared_budget": False, "overrides": job_overrides(job_dir)}
    record = read_run(job_dir)
    if record is None:
        named_as = {"model": named and named["model"], "steps": named and int(named["steps"])}
        named_as |= {"seed": named and int(named["seed"])}
        missing = {"status": STATUS_MISSING, "error": unfinished(job_dir), "history": [], "config": {}}
        return row | dict.fromkeys(RECORD_KEYS) | named_as | missing
    row |= {"model": record.model, "steps": record.max_steps, "seed": record.seed}
    return row | {key: getattr(record, key) for key in RECORD_KEYS}


def unfinished(job_dir: Path) -> str:
    """Why a job directory has no results: killed (or still running), with or without a checkpoint."""
    if (job_dir / "checkpoints" / "last.ckpt").exists():
        return "no results.json: the job was killed or is still running; resume continues it from last.ckpt"
    return "no results.json: the job did not finish"


def missing_row(job: int, values: dict[str, str]) -> dict[str, Any]:
    """A job of the sweep that has not started (no directory yet)."""
    steps, seed = values.get(STEPS_AXIS), values.get("seed")
    return dict.fromkeys(CSV_COLUMNS) | {
        "job": job,
        "model": values.get("model"),
        "steps": int(steps) if steps else None,
        "seed": int(seed) if seed else None,
        "status": STATUS_MISSING,
        "error": "not run yet",
        "shared_budget": False,
        "overrides": values,
        "history": [],
        "config": {},
    }


def budget_row(row: dict[str, Any], steps: int) -> dict[str, Any]:
    """The row of a smaller step budget, read from the evaluation history of a longer run."""
    split = row["config"].get("eval_split", "test")
    history = [record for record in row["history"] if record["step"] <= steps]
    at_budget = next((record for record in history if record["step"] == steps), None)
    return row | {
        "job": None,
        "job_dir": None,
        "steps": steps,
        "status": STATUS_OK if at_budget else row["status"],
        "error": None if at_budget else f"the shared run has no evaluation at step {steps}",
        "final_acc": at_budget and at_budget[f"{split}/acc"],
        "best_acc": max((record[f"{split}/acc"] for record in history), default=None),
        "final_test_acc": at_budget and at_budget.get("test/acc"),
        "wall_time_s": None,
        "shared_budget": True,
        "history": history,
    }


def collect_rows(sweep_dir: Path, spec: SweepSpec | None) -> list[dict[str, Any]]:
    """Every run under sweep_dir, the jobs of its spec that have not started, and shared budgets."""
    job_dirs = [d for d in sweep_dir.iterdir() if (d / ".hydra").is_dir() or (d / "results.json").exists()]
    rows = [run_row(sweep_dir, job_dir) for job_dir in job_dirs]
    if spec is not None:
        started = {row["job"] for row in rows}
        rows += [missing_row(job, values) for job, values in enumerate(spec.jobs()) if job not in started]
        if spec.share_budgets:
            longest = spec.budgets()[-1]
            sources = [row for row in rows if row["steps"] == longest and row["history"]]
            rows += [budget_row(row, steps) for row in sources for steps in spec.budgets()[:-1]]
    return sorted(
        rows, key=lambda row: (row["job"] is None, row["job"] or 0, str(row["source_run"]), row["steps"])
    )


def write_summary(sweep_dir: Path, rows: list[dict[str, Any]]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        overrides = " ".join(f"{key}={value}" for key, value in row["overrides"].items())
        writer.writerow(row | {"overrides": overrides})
    path = sweep_dir / SUMMARY_FILE
    write_text(path, buffer.getvalue())
    return path
