"""W&B without prompts or hangs: online with credentials, offline otherwise, local logs whatever happens."""

from __future__ import annotations

import inspect
import logging
import netrc
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Lightning is imported where a logger is made, not by the sweep report's credentials check
    from pytorch_lightning.loggers import Logger

log = logging.getLogger(__name__)
WANDB_MODES = ("auto", "online", "offline")
WANDB_HOST = "api.wandb.ai"
INIT_TIMEOUT_S = 30


def has_wandb_credentials() -> bool:
    """True when an API key is in the environment or in ~/.netrc (where `wandb login` puts it)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators(WANDB_HOST) is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


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
    **options: Any,
) -> Logger | None:
    """A started `WandbLogger`, falling back from online to offline W&B and then to None (local CSV only).

    `options` are any other WandbLogger (`log_model`, `prefix`, ...) or `wandb.init` argument (`entity`,
    `group`, `tags`, `notes`, ...). The run is started here, by `wandb.init`, and handed to the logger, so
    that a failure surfaces now rather than mid-training; each fallback logs one warning, and
    `init_timeout` bounds how long an unreachable server delays the run.
    """
    if mode not in WANDB_MODES:
        raise ValueError(f"logger.wandb.mode={mode!r} is invalid: must be one of {list(WANDB_MODES)}")
    if options.pop("offline", False):
        mode = "offline"
    if "version" in options:
        options["id"] = options.pop("version")
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
