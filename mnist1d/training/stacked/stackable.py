"""Whether the seeds of a training config can train as one stack, and should on its device.

A stack must give every member the run its seed would give alone, so it is refused where a member's
arithmetic would depend on the others or where something per run cannot be done per member; and it is
skipped where it would be slower than the runs one by one. `refusal` names the first reason, which the
launcher logs when it runs the jobs one by one instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib.metadata import version

import torch
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from mnist1d.training.eval_norm import net_config
from mnist1d.training.stacked.net import refusal as net_refusal
from mnist1d.training.stacked.net import training_flops_per_sample

# Optimizers whose update of a weight depends on that weight's gradient and state alone: stacked, each
# member's weights get exactly the update they would get alone. (Whole-tensor statistics, as in LAMB's
# trust ratio or Adafactor's factored moments, would mix the members of a stacked tensor.)
ELEMENTWISE_OPTIMIZERS = tuple(
    getattr(torch.optim, name)
    for name in (
        "SGD",
        "Adam",
        "AdamW",
        "Adamax",
        "NAdam",
        "RAdam",
        "RMSprop",
        "Adagrad",
        "Adadelta",
        "Rprop",
    )
)
# Trainer options whose meaning is per run, which a stack of runs cannot keep.
PER_RUN_TRAINER_OPTIONS = {
    "max_time": "it limits each run's own wall time",
    "profiler": "it profiles one run",
}
WANDB_RUNS_PER_PROCESS = (0, 19, 10)  # the first W&B with wandb.init(reinit="create_new")


def release(version_text: str) -> tuple[int, ...]:
    """The release numbers of a version (`0.19.10rc1` -> (0, 19, 10))."""
    return tuple(int(number) for number in re.findall(r"\d+", version_text)[:3])


def device_of(trainer_cfg: DictConfig) -> torch.device:
    """The device a run with this Trainer config trains on (`accelerator: auto` picks a GPU if any)."""
    import pytorch_lightning as pl

    trainer = pl.Trainer(
        accelerator=trainer_cfg.accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    return trainer.strategy.root_device


def refusal(cfg: DictConfig, max_flops_per_sample: Mapping[str, float | None]) -> str | None:
    """Why the seeds of `cfg` (a resolved train.py config) do not train as one stack, or None."""
    from mnist1d.errors import ConfigError
    from mnist1d.training.validation import validate

    try:
        validate(cfg)
    except ConfigError as error:
        return f"the config is refused ({error.problems[0]}; each job reports it)"
    return config_refusal(cfg) or net_or_device_refusal(cfg, max_flops_per_sample)


def config_refusal(cfg: DictConfig) -> str | None:
    """A part of the config that a stack cannot run per member, or None."""
    if cfg.get("ckpt_path"):
        return "ckpt_path is set: each job resumes its own checkpoint"
    if cfg.get("compile"):
        return "compile=true (torch.compile of the stacked step is not supported)"
    for option, why in PER_RUN_TRAINER_OPTIONS.items():
        if OmegaConf.select(cfg.trainer, option) is not None:
            return f"trainer.{option} is set: {why}"
    optimizer = get_class(cfg.optimizer._target_)
    if not issubclass(optimizer, ELEMENTWISE_OPTIMIZERS):
        return f"optimizer {optimizer.__name__}: not one of the element-wise optimizers a stack can share"
    scheduler = cfg.get("scheduler")
    if scheduler and issubclass(get_class(scheduler._target_), torch.optim.lr_scheduler.ReduceLROnPlateau):
        return "scheduler ReduceLROnPlateau steps on one run's metric"
    for name, callback in (cfg.get("callbacks") or {}).items():
        problem = checkpoint_refusal(callback)
        if problem:
            return f"callbacks.{name}: {problem}"
    wandb = OmegaConf.select(cfg, "logger.wandb")
    if wandb and wandb.get("log_model"):
        return "logger.wandb.log_model is set: W&B uploads the checkpoints Lightning's callbacks save"
    if wandb and release(version("wandb")) < WANDB_RUNS_PER_PROCESS:
        needed = ".".join(map(str, WANDB_RUNS_PER_PROCESS))
        return f"wandb {version('wandb')} holds one run per process (stacks need wandb >= {needed})"
    return None


def checkpoint_refusal(callback: DictConfig) -> str | None:
    """Why a configured callback cannot run per member: a stack runs checkpoint callbacks that keep the
    latest state or the best one, at evaluations (MemberCheckpoints), and no other callbacks."""
    from pytorch_lightning.callbacks import ModelCheckpoint

    target = get_class(callback._target_)
    if not issubclass(target, ModelCheckpoint):
        return f"{target.__name__} is not a checkpoint callback, and a stack runs callbacks per member"
    options = OmegaConf.to_container(callback, resolve=True)
    if options.get("save_top_k", 1) != 1 or options.get("save_last") or "{" in str(options.get("filename")):
        return "a stack keeps one checkpoint per callback (save_top_k=1, no save_last, a fixed filename)"
    if options.get("every_n_train_steps") or options.get("train_time_interval"):
        return "a stack saves checkpoints at evaluations only"
    if options.get("every_n_epochs", 1) != 1 or options.get("save_weights_only"):
        return "a stack saves every evaluation's whole state"
    return None


def net_or_device_refusal(cfg: DictConfig, max_flops_per_sample: Mapping[str, float | None]) -> str | None:
    """None when the net can be stacked and its training step is small enough to gain on the run's device."""
    datamodule = instantiate(cfg.data)
    net = instantiate(
        net_config(cfg.model), seq_length=datamodule.seq_length, num_classes=datamodule.num_classes
    )
    problem = net_refusal(net, datamodule.seq_length)
    if problem:
        return f"the net cannot be stacked ({problem})"
    device = device_of(cfg.trainer)
    limit = max_flops_per_sample.get(device.type)
    flops = training_flops_per_sample(net, datamodule.seq_length)
    if limit is not None and flops > limit:
        return (
            f"on {device.type} a training step of {flops:,} FLOPs per sample (more than"
            f" max_flops_per_sample.{device.type}={limit:,.0f}) is faster one net at a time"
        )
    return None
