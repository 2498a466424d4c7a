"""What train.py runs per job (`run_job`): one run (`fit`), plus the two things a sweep needs around it.

- resume (`skip_completed=true`): a job whose results.json already says "ok" for the same config is not
  trained again, and one that stopped without a final status continues from its newest readable
  checkpoint: interrupted (Ctrl-C, SIGTERM, a SLURM preemption, a full disk) or killed outright (SIGKILL,
  the OOM killer, a lost node: no results.json at all). A checkpoint that cannot be loaded is reported and
  moved aside, and the job goes on from the next one, or from scratch;
- failures that happen before `fit` can record them (e.g. a net that cannot be built from its config)
  still leave a results.json with status "failed" and the error, so the sweep report can list them.

The exception is re-raised either way: a single run fails non-zero, and in a multirun Hydra's launchers
run the remaining jobs first (each job's exception is kept in its JobReturn) and fail at the end.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from mnist1d.atomic import set_aside
from mnist1d.errors import disk_full
from mnist1d.records import STATUS_FAILED, STATUS_OK, RunRecord, TrainRecord, read_run, write_run
from mnist1d.training.checkpoint_io import CHECKPOINTS_DIR, LAST
from mnist1d.training.fit import fit

log = logging.getLogger(__name__)
FINAL_STATUSES = (STATUS_OK, STATUS_FAILED)  # any other status, or none, leaves a job to resume
# Config keys that do not change what a run computes, so a completed run counts as done whatever they are.
RUN_INDEPENDENT_KEYS = ("skip_completed", "ckpt_path", "num_threads", "paths", "logger")


def comparable(config: dict[str, Any]) -> str:
    """The config without run-independent keys, its own output directory written as `<output_dir>` (so a
    sweep directory that was moved or copied still matches)."""
    kept = {key: value for key, value in config.items() if key not in RUN_INDEPENDENT_KEYS}
    return json.dumps(kept, sort_keys=True).replace(str(config["paths"]["output_dir"]), "<output_dir>")


def completed_record(cfg: DictConfig, output_dir: Path) -> RunRecord | None:
    """This job's record when it already completed with the same config, else None."""
    record = read_run(output_dir)
    if record is None or record.status != STATUS_OK or not record.config:
        return None
    same = comparable(record.config) == comparable(OmegaConf.to_container(cfg, resolve=True))
    return record if same else None


def run_job(cfg: DictConfig) -> float | None:
    """Train (or skip a completed job); returns the final evaluation accuracy, the value sweepers optimise."""
    output_dir = Path(cfg.paths.output_dir)
    if cfg.skip_completed and (done := completed_record(cfg, output_dir)):
        log.info("Skipping %s: already completed (final_acc %.4f)", output_dir.name, done.final_acc)
        return done.final_acc
    remove_partial_writes(output_dir)
    if cfg.skip_completed and cfg.ckpt_path is None and (checkpoint := resume_checkpoint(output_dir)):
        log.info("Resuming %s from %s (step %d)", output_dir.name, *checkpoint)
        cfg.ckpt_path = str(checkpoint[0])
    try:
        return fit(cfg)
    except Exception as error:
        # A refused config leaves earlier results untouched; a full disk would refuse this write too, and
        # the job must stay resumable (a "failed" job reruns from scratch).
        if read_run(output_dir) is None and disk_full(error, output_dir) is None:
            write_run(output_dir, failure_record(cfg, error))
        raise


def resume_checkpoint(output_dir: Path) -> tuple[Path, int] | None:
    """The newest readable checkpoint (and its step) of a job that stopped without a final status, or None.

    A job's final status is "ok" or "failed" in its results.json. Any other status ("interrupted"), or no
    results.json at all (`fit` removes it when it starts, so a killed job has none), means the job
    stopped part-way. Unreadable checkpoints are moved aside; of the others the one of the latest step is
    chosen, last.ckpt on a tie.
    """
    record = read_run(output_dir)
    if record is not None and record.status in FINAL_STATUSES:
        return None
    readable = []
    for path in sorted((output_dir / CHECKPOINTS_DIR).glob("*.ckpt"), key=lambda p: p.name != LAST):
        step = checkpoint_step(path)
        if step is None:
            log.warning("%s cannot be loaded: moved to %s", path, move_aside(path).name)
        else:
            readable.append((path, step))
    return max(readable, key=lambda found: found[1], default=None)  # max keeps the first (last.ckpt) on ties


def checkpoint_step(path: Path) -> int | None:
    """The global step of a Lightning checkpoint, or None if it cannot be loaded (torn, empty, not one)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        return int(checkpoint["global_step"]) if "state_dict" in checkpoint else None
    except Exception:  # any failure to load makes it unusable for a resume
        return None


def move_aside(path: Path) -> Path:
    """Rename an unusable file to `<name>.unreadable` (numbered if taken), kept for inspection."""
    return set_aside(path, "unreadable")


def remove_partial_writes(output_dir: Path) -> None:
    """Remove the temporary files of writes that a killed process left unfinished (results.json, figures,
    checkpoints; `atomic_open` names them `.<name>-<random>.tmp`): never renamed to a real path, nothing
    refers to them."""
    for folder in (output_dir, output_dir / CHECKPOINTS_DIR):
        for partial in folder.glob(".*-*.tmp"):
            partial.unlink(missing_ok=True)


def failure_record(cfg: DictConfig, error: Exception) -> TrainRecord:
    """The results.json of a job that failed before training started; its fields come from the plain config,
    so a refused value of any type (`seed=[]`) is recorded as given."""
    config = resolved_or_raw(cfg)
    return TrainRecord(
        model=config.get("model_name"),
        seed=config.get("seed"),
        max_steps=(config.get("trainer") or {}).get("max_steps"),
        status=STATUS_FAILED,
        error=f"{type(error).__name__}: {error}",
        config=config,
    )


def resolved_or_raw(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config, or the unresolved one when resolving it is what failed."""
    try:
        return OmegaConf.to_container(cfg, resolve=True)
    except Exception:
        return OmegaConf.to_container(cfg, resolve=False)
