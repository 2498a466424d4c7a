"""Log a sweep's report (figures and the summary table) to W&B as one run in the sweep's group."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from mnist1d.sweeps.summary import CSV_COLUMNS
from mnist1d.training.loggers import has_wandb_credentials

log = logging.getLogger(__name__)
WANDB_REPORT_MODES = ("auto", "online", "offline", "false")


def wandb_project(rows: list[dict[str, Any]]) -> str | None:
    """The W&B project the jobs logged to, or None when none of them used the W&B logger."""
    for row in rows:
        wandb_cfg = (row["config"].get("logger") or {}).get("wandb")
        if wandb_cfg:
            return wandb_cfg["project"]
    return None


def report_mode(setting: str, rows: list[dict[str, Any]]) -> str | None:
    """The W&B mode to log the report in, or None: `auto` logs only online, and only when the jobs did."""
    setting = str(setting).lower()
    if setting == "auto":
        return "online" if wandb_project(rows) and has_wandb_credentials() else None
    return None if setting == "false" else setting


def log_report(sweep_dir: Path, rows: list[dict[str, Any]], paths: list[Path], mode: str) -> None:
    """One W&B run (job_type report) in the sweep's group: every PNG and the summary as a table."""
    import wandb

    run = wandb.init(
        project=wandb_project(rows) or "mnist1d-lab",
        group=sweep_dir.name,
        name=f"{sweep_dir.name}-report",
        job_type="report",
        dir=str(sweep_dir),
        mode=mode,
        settings=wandb.Settings(silent=True),
    )
    table = wandb.Table(columns=list(CSV_COLUMNS))
    for row in rows:
        table.add_data(
            *(str(row[column]) if column == "overrides" else row[column] for column in CSV_COLUMNS)
        )
    images = {path.stem: wandb.Image(str(path)) for path in paths if path.suffix == ".png"}
    run.log({"summary": table, **images})
    run.finish()
    log.info("Logged the report to W&B (%s): %d figures", mode, len(images))
