"""Refuse a bad training config before any work, naming every bad field, its value and what is allowed.

The fields are checked against rule tables (mnist1d/rules.py says how to add one): `RULES` below for the
run's own keys, `TRAINER_RULES` (engine/plan.py) for the Lightning Trainer's; the data's arguments are
checked by `DatasetConfig` and `MNIST1DDataModule` when the DataModule is built. Then the model and
optimizer are built on the CPU and probed with one tiny forward/backward pass, so that errors only torch
would find (a sequence too short for an architecture, a bad optimizer argument) surface here instead of
mid-run. Nothing is written: no dataset is generated or cached, no checkpoint loaded, no output file created.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mnist1d.errors import ConfigError
from mnist1d.rules import Rule, is_int, is_number, one_of, problems
from mnist1d.training.datamodule import MNIST1DDataModule
from mnist1d.training.engine import TRAINER_RULES
from mnist1d.training.loggers import WANDB_MODES, wandb_option_problems

LONGEST_PROBED_LENGTH = 256  # search bound for an architecture's minimum sequence length
PRECISIONS = ("32-true", "32", "64-true", "64", "bf16-mixed", "bf16-true", "16-true")


def readable_checkpoint(path: Any) -> bool:
    """A torch checkpoint (a zip archive) that this process may read; the file is not loaded."""
    path = Path(str(path))
    return path.is_file() and os.access(path, os.R_OK) and zipfile.is_zipfile(path)


RULES = (
    Rule("eval_every", "an integer >= 1", lambda v: is_int(v) and v >= 1, required=True),
    Rule("trainer.log_every_n_steps", "an integer >= 0", lambda v: is_int(v) and v >= 0, required=True),
    Rule("chunk_steps", "an integer >= 1", lambda v: is_int(v) and v >= 1, required=True),
    Rule("compile", "true or false", lambda v: isinstance(v, bool), required=True),
    Rule("cuda_graphs", "auto, true or false", lambda v: v == "auto" or isinstance(v, bool)),
    Rule(
        "trainer.precision",
        f"{one_of(PRECISIONS)} (16-mixed needs loss scaling, which Classifier.training_step omits)",
        lambda v: str(v) in PRECISIONS,
        required=True,
    ),
    Rule("seed", "an integer in [0, 2**32)", lambda v: is_int(v) and 0 <= v < 2**32, required=True),
    Rule("optimizer.lr", "a number > 0", lambda v: is_number(v) and v > 0),
    Rule("logger.wandb.mode", one_of(WANDB_MODES), lambda v: v in WANDB_MODES),
    Rule("logger.wandb.init_timeout", "a number > 0", lambda v: is_number(v) and v > 0),
    Rule(
        "ckpt_path", "null or a readable checkpoint file", lambda v: v is None or readable_checkpoint(v), True
    ),
    *TRAINER_RULES,
)


def _trains(cfg: DictConfig, seq_length: int, batch_size: int, num_classes: int) -> str | None:
    """None when the model and optimizer survive one step on a (batch, seq_length) input, else the error."""
    try:
        net = instantiate(cfg.model, seq_length=seq_length, num_classes=num_classes).train()
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


def probe_components(cfg: DictConfig, datamodule: MNIST1DDataModule) -> list[str]:
    """Probe the model and optimizer on the CPU with the DataModule's input size."""
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


def validate(cfg: DictConfig) -> MNIST1DDataModule:
    """Raise `ConfigError` listing every problem of `cfg`, before anything is trained or written; return the
    DataModule it built on the way (no data loaded yet), which the run then uses."""
    found = problems(RULES, cfg)
    if OmegaConf.select(cfg, "logger.wandb"):
        found += wandb_option_problems(cfg.logger.wandb)
    if not found:
        try:
            datamodule = instantiate(cfg.data)
        except Exception as error:  # the DataModule's and DatasetConfig's rules, or an unknown argument
            found = [f"data: {error}"]
        else:
            found = probe_components(cfg, datamodule)
    if found:
        raise ConfigError(found)
    return datamodule
