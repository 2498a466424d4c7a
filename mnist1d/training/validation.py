"""Refuse a bad training config before any work, naming every bad field, its value and what is allowed.

Scalar fields are checked against a declarative schema (`RULES`); components are then built on the CPU and
probed with one tiny forward/backward pass, so that errors only torch would find (a sequence too short for an
architecture, a bad optimizer argument) surface here as a `ConfigError` instead of mid-run. Nothing is
written: no dataset is generated or cached, no checkpoint loaded, no output file created.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mnist1d.dataset_config import is_int
from mnist1d.training.batches import ORDERS
from mnist1d.training.eval_norm import EVAL_NORMS, split_net_config
from mnist1d.training.loggers import WANDB_MODES, wandb_option_problems
from mnist1d.training.plan import refusals

LONGEST_PROBED_LENGTH = 256  # search bound for an architecture's minimum sequence length
_ABSENT = object()


class ConfigError(ValueError):
    """A training config that cannot run; the message lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid training config:\n  - " + "\n  - ".join(problems))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


PRECISIONS = ("32-true", "32", "64-true", "64", "bf16-mixed", "bf16-true", "16-true")


@dataclass(frozen=True)
class Rule:
    """One config field: its dotted key, what it must be (in words), the test; may it be absent."""

    key: str
    allowed: str
    ok: Callable[[Any], bool]
    required: bool = True


RULES = (
    Rule("eval_every", "an integer >= 1", lambda v: is_int(v) and v >= 1),
    Rule("trainer.log_every_n_steps", "an integer >= 0", lambda v: is_int(v) and v >= 0),
    Rule("chunk_steps", "an integer >= 1", lambda v: is_int(v) and v >= 1),
    Rule("compile", "true or false", lambda v: isinstance(v, bool)),
    Rule("cuda_graphs", "auto, true or false", lambda v: v == "auto" or isinstance(v, bool), required=False),
    Rule(
        "trainer.precision",
        f"one of {list(PRECISIONS)} (16-mixed needs loss scaling, which Classifier.training_step omits)",
        lambda v: str(v) in PRECISIONS,
    ),
    Rule("seed", "an integer in [0, 2**32)", lambda v: is_int(v) and 0 <= v < 2**32),
    Rule("model.eval_norm", f"one of {list(EVAL_NORMS)}", lambda v: v in EVAL_NORMS, required=False),
    Rule("protocol.accuracy", "final or best", lambda v: v in ("final", "best"), required=False),
    Rule("data.order", f"one of {list(ORDERS)}", lambda v: v in ORDERS, required=False),
    Rule("optimizer.lr", "a number > 0", lambda v: _is_number(v) and v > 0, required=False),
    Rule("logger.wandb.mode", f"one of {list(WANDB_MODES)}", lambda v: v in WANDB_MODES, required=False),
    Rule("logger.wandb.init_timeout", "a number > 0", lambda v: _is_number(v) and v > 0, required=False),
    Rule("ckpt_path", "null or a readable checkpoint file", lambda v: v is None or readable_checkpoint(v)),
)


def readable_checkpoint(path: Any) -> bool:
    """A torch checkpoint (a zip archive) that this process may read; the file is not loaded."""
    path = Path(str(path))
    return path.is_file() and os.access(path, os.R_OK) and zipfile.is_zipfile(path)


def check_fields(cfg: DictConfig) -> list[str]:
    """Problems with the scalar fields of `RULES`, one message per bad field."""
    problems = []
    for rule in RULES:
        value = OmegaConf.select(cfg, rule.key, default=_ABSENT)
        if value is _ABSENT:
            if rule.required:
                problems.append(f"{rule.key} is missing: must be {rule.allowed}")
        elif not rule.ok(value):
            problems.append(f"{rule.key}={value!r} is invalid: must be {rule.allowed}")
    return problems


def _trains(cfg: DictConfig, seq_length: int, batch_size: int, num_classes: int) -> str | None:
    """None when the model and optimizer survive one step on a (batch, seq_length) input, else the error."""
    try:
        net_config, _ = split_net_config(OmegaConf.to_container(cfg.model, resolve=True))
        net = instantiate(net_config, seq_length=seq_length, num_classes=num_classes).train()
        optimizer = instantiate(cfg.optimizer)(net.parameters())
        if cfg.get("scheduler"):
            instantiate(cfg.scheduler)(optimizer)
        loss = F.cross_entropy(
            net(torch.zeros(batch_size, seq_length)), torch.zeros(batch_size, dtype=torch.long)
        )
        loss.backward()
    except Exception as error:  # any failure of the probe is a config problem to report
        return f"{type(error).__name__}: {error}"
    return None


def check_components(cfg: DictConfig) -> list[str]:
    """Build the DataModule (no data is loaded) and probe the model and optimizer on the CPU."""
    try:
        datamodule = instantiate(cfg.data)
    except Exception as error:
        return [f"data: {error}"]
    seq_length, classes, batch = datamodule.seq_length, datamodule.num_classes, min(datamodule.batch_size, 2)
    error = _trains(cfg, seq_length, batch, classes)
    if error is None:
        return []
    model = cfg.get("model_name", cfg.model.get("_target_"))
    lengths = range(seq_length + 1, LONGEST_PROBED_LENGTH + 1)
    shortest = next((n for n in lengths if _trains(cfg, n, batch, classes) is None), None)
    if shortest is None:
        return [f"model={model} with optimizer {cfg.optimizer.get('_target_')} cannot train: {error}"]
    return [
        f"data.final_seq_length={seq_length} is invalid for model={model}: must be >= {shortest} "
        f"(this architecture fails on shorter inputs: {error})"
    ]


def validate(cfg: DictConfig) -> None:
    """Raise `ConfigError` listing every problem of `cfg`, before anything is trained or written."""
    problems = check_fields(cfg) + refusals(cfg.trainer)
    if OmegaConf.select(cfg, "logger.wandb"):
        problems += wandb_option_problems(cfg.logger.wandb)
    if not problems:
        problems = check_components(cfg)
    if problems:
        raise ConfigError(problems)
