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
    init_timeout: float = INIT_TIMEOUT_S,
) -> Logger | None:
    """A started `WandbLogger`, falling back from online to offline W&B and then to None (local CSV only).

    Each fallback logs one warning; `init_timeout` bounds how long an unreachable server delays the run.
    """
    if mode not in WANDB_MODES:
        raise ValueError(f"logger.wandb.mode={mode!r} is invalid: must be one of {list(WANDB_MODES)}")
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
    args = {"project": project, "name": name, "save_dir": save_dir, "group": group, "tags": list(tags or [])}
    try:
        return _started(mode, init_timeout, **args)
    except Exception as error:  # W&B failures of any kind must not cost the local results
        reason = f"{type(error).__name__}: {error}".strip()
    if mode == "online":
        try:
            logger = _started("offline", init_timeout, **args)
        except Exception:
            pass
        else:
            log.warning("W&B online could not start (%s); logging offline instead, %s", reason, sync_hint)
            return logger
    log.warning("W&B could not start (%s); continuing with local logging only", reason)
    return None


def _started(mode: str, init_timeout: float, **args: Any) -> Logger:
    """A `WandbLogger` whose run has started, so that a failure surfaces here and not mid-training."""
    import wandb
    from pytorch_lightning.loggers import WandbLogger

    settings = wandb.Settings(init_timeout=init_timeout, silent=True)
    logger = WandbLogger(mode=mode, settings=settings, **args)
    logger.experiment  # noqa: B018 - starts the run
    return logger


def finish_wandb(loggers: list[Any]) -> None:
    """Close this run's W&B run, so that the next job of a multirun starts its own."""
    from pytorch_lightning.loggers import WandbLogger

    for logger in loggers:
        if isinstance(logger, WandbLogger):
            try:
                logger.experiment.finish()
            except Exception as error:  # results.json is written already; an upload failure must not mask it
                log.warning("W&B run could not finish cleanly (%s: %s)", type(error).__name__, error)
