"""The run's loggers: W&B without prompts or hangs (online with credentials, offline otherwise, local logs
whatever happens), and one history per logger across resumes (`start_loggers`)."""

from __future__ import annotations

import csv
import inspect
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.utils import get_object, instantiate

if TYPE_CHECKING:  # Lightning is imported where a logger is made, not by the sweep report's credentials check
    from omegaconf import DictConfig
    from pytorch_lightning.loggers import CSVLogger, Logger

log = logging.getLogger(__name__)
WANDB_MODES = ("auto", "online", "offline")
INIT_TIMEOUT_S = 30
OFFLINE_MODES = ("offline", "dryrun", "disabled")  # W&B's own WANDB_MODE values that never go online
FINAL_TEST = "final/"  # what the test after training logs (Classifier): a resumed run logs it again
RESUMED_FROM = ".metrics.before-resume.csv"  # a resumed run's CSV log until its history is written again
WANDB_RUN_DIR = re.compile(r"^(offline-)?run-(?P<started>\d{8}_\d{6})-(?P<id>[a-z0-9]+)$")


def start_loggers(configs: DictConfig, resume_step: int | None, **wandb_arguments: Any) -> list[Logger]:
    """The run's loggers (`cfg.logger`), each holding the run's history once, also after a resume from a
    checkpoint of step `resume_step` (None: a fresh start, whose directory may hold an earlier attempt):

    - CSV: the rows up to that step are kept and the rows logged after it, before the run stopped, dropped,
      to be logged again (Lightning's CSVLogger would delete them all);
    - TensorBoard: events after that step are hidden (`purge_step`; all of them on a fresh start);
    - W&B: the run continues the W&B run its directory holds (same id), online or offline; `wandb_arguments`
      go to its logger.
    """
    from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

    loggers = []
    for config in configs.values():
        kind, extra = get_object(config._target_), {}
        if isinstance(kind, type) and issubclass(kind, TensorBoardLogger):
            extra["purge_step"] = 0 if resume_step is None else resume_step + 1
        elif kind is wandb_logger:
            extra = {**wandb_arguments, "continue_run": resume_step is not None}
        logger = instantiate(config, **extra)
        if isinstance(logger, CSVLogger):
            continue_csv(logger, resume_step)
        if logger:
            loggers.append(logger)
    return loggers


def continue_csv(logger: CSVLogger, resume_step: int | None) -> None:
    """Replay the rows of `logger`'s earlier metrics.csv up to `resume_step` into it and write them at once.

    The earlier file is first renamed aside, so that a run killed before its history is written again still
    finds it there when resumed once more. Dropped too: the rows of the test after training and a last row
    cut short by a kill, both written after any checkpoint. A fresh start keeps nothing: Lightning starts
    a new file.
    """
    log_dir = Path(logger.log_dir)
    earlier, aside = log_dir / "metrics.csv", log_dir / RESUMED_FROM
    if resume_step is None:
        aside.unlink(missing_ok=True)
        return
    if not aside.exists():
        if not earlier.exists():
            return
        earlier.replace(aside)
    with aside.open(newline="") as file:
        rows = list(csv.DictReader(file))
    for row in rows:
        if None in row or None in row.values():  # fewer or more fields: a last row cut short by a kill
            continue
        step = int(float(row.pop("step")))
        values = {key: value for key, value in row.items() if value != ""}
        if step <= resume_step and not any(key.startswith(FINAL_TEST) for key in values):
            logger.log_metrics(values, step=step)  # the text as written: the same digits again
    logger.save()
    aside.unlink()


def has_wandb_credentials() -> bool:
    """Whether W&B has credentials for the server it would log to, by W&B's own resolution: the host of
    `WANDB_BASE_URL` or the one `wandb login --host` saved (a self-hosted server, or W&B's), and the key for
    it (`WANDB_API_KEY`, that host's netrc entry, ...). Never prompts. W&B releases without
    `wandb.login(prompt=False)` are asked through their API client's key for that host."""
    import wandb

    if os.environ.get("WANDB_MODE") in OFFLINE_MODES:
        return False
    if "prompt" in inspect.signature(wandb.login).parameters:
        return wandb.login(prompt=False, verify=False)
    return bool(wandb.api.api_key)


# WandbLogger's own arguments; every other one goes to `wandb.init` (entity, notes, job_type, id, ...).
LOGGER_ARGUMENTS = ("log_model", "prefix", "checkpoint_name", "add_file_policy")


def wandb_option_problems(options: Iterable[str]) -> list[str]:
    """Problems with `logger.wandb` keys: each must be a WandbLogger or `wandb.init` argument."""
    import wandb

    known = {*LOGGER_ARGUMENTS, "version", "offline", "save_dir", "init_timeout", "_target_"}
    known |= set(inspect.signature(wandb.init).parameters)
    return [
        f"logger.wandb.{name} is not an argument of WandbLogger or wandb.init: see their documentation"
        for name in sorted(set(options) - known)
    ]


def wandb_logger(
    project: str,
    name: str,
    save_dir: str,
    mode: str = "auto",
    init_timeout: float = INIT_TIMEOUT_S,
    continue_run: bool = False,
    **options: Any,
) -> Logger | None:
    """A started `WandbLogger`, falling back from online to offline W&B and then to None (local CSV only).

    `options` are any other WandbLogger (`log_model`, `prefix`, ...) or `wandb.init` argument (`entity`,
    `group`, `tags`, `notes`, ...). The run is started here, by `wandb.init`, and handed to the logger, so
    that a failure surfaces now rather than mid-training; each fallback logs one warning, and
    `init_timeout` bounds how long an unreachable server delays the run. `continue_run` (a resumed run):
    the W&B run of `save_dir` goes on, with its id (`resume="allow"`), unless an `id` is given.
    """
    if mode not in WANDB_MODES:
        raise ValueError(f"logger.wandb.mode={mode!r} is invalid: must be one of {list(WANDB_MODES)}")
    if options.pop("offline", False):
        mode = "offline"
    if "version" in options:
        options["id"] = options.pop("version")
    if continue_run and "id" not in options and (earlier := wandb_run_id(Path(save_dir))):
        options |= {"id": earlier, "resume": "allow"}
    sync_hint = f"upload later with `wandb sync {save_dir}/wandb/`"
    if mode == "auto":
        mode = "online" if has_wandb_credentials() else "offline"
        if mode == "offline":
            log.info("W&B: no credentials found, logging offline; %s", sync_hint)
    elif mode == "online" and not has_wandb_credentials():
        log.warning(
            "W&B: online mode but no credentials (WANDB_API_KEY or `wandb login`); logging offline, %s",
            sync_hint,
        )
        mode = "offline"
    Path(save_dir).mkdir(parents=True, exist_ok=True)
    logger_args = {key: options.pop(key) for key in LOGGER_ARGUMENTS if key in options}
    init_args = {"project": project, "name": name, "dir": save_dir} | options
    try:
        return _started(mode, init_timeout, init_args, logger_args)
    except Exception as error:  # W&B failures of any kind must not cost the local results
        reason = f"{type(error).__name__}: {error}".strip()
    if mode == "online":
        try:
            logger = _started("offline", init_timeout, init_args, logger_args)
        except Exception:
            pass
        else:
            log.warning("W&B online could not start (%s); logging offline instead, %s", reason, sync_hint)
            return logger
    log.warning("W&B could not start (%s); continuing with local logging only", reason)
    return None


def wandb_run_id(save_dir: Path) -> str | None:
    """The id of the latest W&B run in `save_dir` (`wandb/run-<time>-<id>`, or `offline-run-...`), or None."""
    found = [m for d in (save_dir / "wandb").glob("*run-*") if (m := WANDB_RUN_DIR.match(d.name))]
    return max(found, key=lambda m: m["started"])["id"] if found else None


def _started(
    mode: str, init_timeout: float, init_args: dict[str, Any], logger_args: dict[str, Any]
) -> Logger:
    """A `WandbLogger` around a run started by `wandb.init` (not by the logger, which would pass the
    deprecated `anonymous` setting that makes W&B print a warning on every run)."""
    import wandb
    from pytorch_lightning.loggers import WandbLogger

    user_settings = init_args.pop("settings", None) or {}
    settings = wandb.Settings(**{"init_timeout": init_timeout, "silent": True, **user_settings})
    run = wandb.init(mode=mode, settings=settings, **init_args)
    return WandbLogger(experiment=run, save_dir=init_args["dir"], **logger_args)


def log_confusion_matrix(loggers: list[Any], matrix: list[list[int]], png: Path | None) -> None:
    """Log the test confusion matrix to W&B, as an interactive plot and as the run directory's PNG."""
    from pytorch_lightning.loggers import WandbLogger

    runs = [logger.experiment for logger in loggers if isinstance(logger, WandbLogger)]
    if not runs:
        return
    import wandb

    y_true = [true for true, row in enumerate(matrix) for pred, count in enumerate(row) for _ in range(count)]
    preds = [pred for row in matrix for pred, count in enumerate(row) for _ in range(count)]
    plot = wandb.plot.confusion_matrix(
        y_true=y_true, preds=preds, class_names=[str(c) for c in range(len(matrix))]
    )
    for run in runs:
        run.log(
            {"final/confusion_matrix": plot}
            | ({"final/confusion_matrix_png": wandb.Image(str(png))} if png else {})
        )


def finish_wandb(loggers: list[Any]) -> None:
    """Close this run's W&B run, so that the next job of a multirun starts its own."""
    from pytorch_lightning.loggers import WandbLogger

    for logger in loggers:
        if isinstance(logger, WandbLogger):
            try:
                logger.experiment.finish()
            except Exception as error:  # results.json is written already; an upload failure must not mask it
                log.warning("W&B run could not finish cleanly (%s: %s)", type(error).__name__, error)
