"""W&B without prompts or hangs: online with credentials, offline otherwise, local logs whatever happens."""

from __future__ import annotations

import logging
import netrc
import os
from pathlib import Path
from typing import Any

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


def wandb_logger(
    project: str,
    name: str,
    save_dir: str,
    mode: str = "auto",
    group: str | None = None,
    tags: list[str] | None = None,
) -> Logger | None:
    """A started `WandbLogger`, or None (with one warning) when W&B cannot start: training goes on locally."""
    if mode not in WANDB_MODES:
        raise ValueError(f"logger.wandb.mode={mode!r} is invalid: must be one of {WANDB_MODES}")
    if mode == "auto":
        mode = "online" if has_wandb_credentials() else "offline"
        if mode == "offline":
            log.info(
                "W&B: no credentials found, logging offline; upload later with `wandb sync %s/wandb/`",
                save_dir,
            )
    import wandb
    from pytorch_lightning.loggers import WandbLogger

    Path(save_dir).mkdir(parents=True, exist_ok=True)
    logger = WandbLogger(
        project=project,
        name=name,
        save_dir=save_dir,
        group=group,
        tags=list(tags or []),
        mode=mode,
        settings=wandb.Settings(init_timeout=INIT_TIMEOUT_S, silent=True),
    )
    try:
        logger.experiment  # noqa: B018 - starts the run now, so a failure is caught here and not mid-training
    except Exception as error:  # W&B failures of any kind must not cost the local results
        log.warning(
            "W&B could not start (%s: %s); continuing with local logging only", type(error).__name__, error
        )
        return None
    return logger


def finish_wandb(loggers: list[Any]) -> None:
    """Close this run's W&B run, so that the next job of a multirun starts its own."""
    from pytorch_lightning.loggers import WandbLogger

    for logger in loggers:
        if isinstance(logger, WandbLogger):
            logger.experiment.finish()
