"""What train.py runs per job: `train`, plus the two things a sweep needs around it.

- resume (`skip_completed=true`): a job whose results.json already says "ok" for the same config is not
  trained again, and one that was interrupted (Ctrl-C, SIGTERM, a SLURM preemption) continues from its
  `checkpoints/last.ckpt`;
- failures that happen before `train` can record them (e.g. a net that cannot be built from its config)
  still leave a results.json with status "failed" and the error, so the sweep report can list them.

The exception is re-raised either way: a single run fails non-zero, and in a multirun Hydra's launchers
run the remaining jobs first (each job's exception is kept in its JobReturn) and fail at the end.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from mnist1d.atomic import write_json
from mnist1d.training.fit import train
from mnist1d.training.results import (
    RESULTS_FILE,
    STATUS_FAILED,
    STATUS_INTERRUPTED,
    STATUS_OK,
    read_results,
)

log = logging.getLogger(__name__)
# Config keys that do not change what a run computes, so a completed run counts as done whatever they are.
RUN_INDEPENDENT_KEYS = ("skip_completed", "ckpt_path", "num_threads", "paths", "logger")


def comparable(config: dict[str, Any]) -> str:
    """The config without run-independent keys, its own output directory written as `<output_dir>` (so a
    sweep directory that was moved or copied still matches)."""
    kept = {key: value for key, value in config.items() if key not in RUN_INDEPENDENT_KEYS}
    return json.dumps(kept, sort_keys=True).replace(str(config["paths"]["output_dir"]), "<output_dir>")


def completed_results(cfg: DictConfig, output_dir: Path) -> dict[str, Any] | None:
    """This job's results when it already completed with the same config, else None."""
    results = read_results(output_dir)
    if results is None or results.get("status") != STATUS_OK or "config" not in results:
        return None
    same = comparable(results["config"]) == comparable(OmegaConf.to_container(cfg, resolve=True))
    return results if same else None


def run_job(cfg: DictConfig) -> float | None:
    """Train (or skip a completed job); returns the final evaluation accuracy, the value sweepers optimise."""
    output_dir = Path(cfg.paths.output_dir)
    if cfg.skip_completed and (done := completed_results(cfg, output_dir)):
        log.info("Skipping %s: already completed (final_acc %.4f)", output_dir.name, done["final_acc"])
        return done["final_acc"]
    if cfg.skip_completed and cfg.ckpt_path is None and (last := interrupted_checkpoint(output_dir)):
        log.info("Resuming %s from %s", output_dir.name, last)
        cfg.ckpt_path = str(last)
    try:
        return train(cfg)
    except Exception as error:
        if read_results(output_dir) is None:  # a refused config leaves earlier results untouched
            write_json(output_dir / RESULTS_FILE, failure_record(cfg, error))
        raise


def interrupted_checkpoint(output_dir: Path) -> Path | None:
    """The last checkpoint of an interrupted run in output_dir, if it left one."""
    results = read_results(output_dir)
    last = output_dir / "checkpoints" / "last.ckpt"
    return last if results and results.get("status") == STATUS_INTERRUPTED and last.exists() else None


def failure_record(cfg: DictConfig, error: Exception) -> dict[str, Any]:
    """The results.json of a job that failed before training started."""
    return {
        "model": cfg.model_name,
        "seed": cfg.seed,
        "max_steps": cfg.trainer.max_steps,
        "status": STATUS_FAILED,
        "error": f"{type(error).__name__}: {error}",
        "steps": 0,
        "history": [],
        "config": resolved_or_raw(cfg),
    }


def resolved_or_raw(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config, or the unresolved one when resolving it is what failed."""
    try:
        return OmegaConf.to_container(cfg, resolve=True)
    except Exception:
        return OmegaConf.to_container(cfg, resolve=False)
