"""A run's schedule in optimizer steps, and the Lightning Trainer arguments that carry it out.

Lightning counts its loops in `training_step` calls, and here each call takes a chunk of optimizer steps
(see `Classifier.training_step`). So the Trainer options of the config are read here, once: each keeps
Lightning's documented meaning in optimizer steps and passes over the training data, or is refused before
any work (`TRAINER_RULES`).

- translated: `max_steps` / `max_epochs` (an epoch is one pass over the training split, whichever limit comes
  first ends the run), `fast_dev_run`, `log_every_n_steps`, `accumulate_grad_batches` and
  `gradient_clip_val` / `gradient_clip_algorithm` (done by the chunked step), fractions of
  `limit_val_batches` / `limit_test_batches` (the first part of the split), `enable_checkpointing`,
  `enable_progress_bar` (a bar that counts optimizer steps);
- refused: the `Refused` lines of `TRAINER_RULES` (they would count chunks, or are set elsewhere) and more
  than one device or node;
- passed through unchanged: every other option (`min_steps`, `max_time`, `precision`, `profiler`, ...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from mnist1d.rules import Refused, Rule, Together, is_int, is_number, one_of

SINGLE_DEVICE = "one run trains on one device: run several at once with sweep.py's launchers instead"
CLIP_ALGORITHMS = ("norm", "value")
COUNTS_CHUNKS = "it would count chunks of steps"
EVAL_EVERY = "evaluation runs every `eval_every` optimizer steps: set eval_every instead"


def _one_device(value: Any) -> bool:
    return value in (1, "1") or (isinstance(value, list | tuple) and len(value) == 1)


def _limit(value: Any) -> bool:
    return value is None or (is_int(value) and value >= 0) or (isinstance(value, float) and 0 <= value <= 1)


# Every Trainer option that this module reads, translates or refuses (see mnist1d/rules.py); the others pass
# through unchanged.
TRAINER_RULES = (
    Refused("trainer.val_check_interval", EVAL_EVERY),
    Refused("trainer.check_val_every_n_epoch", EVAL_EVERY),
    Refused("trainer.limit_train_batches", f"{COUNTS_CHUNKS}: set trainer.max_steps or trainer.max_epochs"),
    Refused("trainer.overfit_batches", f"{COUNTS_CHUNKS}: train on a smaller data.num_samples instead"),
    Refused("trainer.min_epochs", f"{COUNTS_CHUNKS}: set trainer.min_steps instead"),
    Refused(
        "trainer.reload_dataloaders_every_n_epochs", "the training data is served as one step-indexed stream"
    ),
    Refused(
        "trainer.logger",
        "choose loggers with the logger group (logger=csv, logger=wandb, logger=tensorboard)",
    ),
    Refused("trainer.callbacks", "add callbacks to the callbacks group (+callbacks.<name>._target_=...)"),
    Rule("trainer.devices", f"1 ({SINGLE_DEVICE})", _one_device),
    Rule("trainer.num_nodes", f"1 ({SINGLE_DEVICE})", _one_device),
    Rule("trainer.strategy", f"auto ({SINGLE_DEVICE})", lambda v: v in ("auto", "single_device")),
    Rule("trainer.max_steps", "an integer >= 1, or -1", lambda v: is_int(v) and (v >= 1 or v == -1), True),
    Rule(
        "trainer.max_epochs",
        "an integer >= 1, or -1",
        lambda v: v is None or (is_int(v) and (v >= 1 or v == -1)),
    ),
    Rule(
        "trainer.fast_dev_run",
        "true, false or steps >= 0",
        lambda v: isinstance(v, bool) or (is_int(v) and v >= 0),
    ),
    Together(
        ("trainer.max_steps", "trainer.max_epochs"),
        "would train forever: set either",
        lambda steps, epochs: not (steps == -1 and epochs in (-1, None)),
        unless="trainer.fast_dev_run",
    ),
    Rule("trainer.accumulate_grad_batches", "an integer >= 1", lambda v: is_int(v) and v >= 1),
    Rule(
        "trainer.gradient_clip_val", "a number >= 0 or null", lambda v: v is None or (is_number(v) and v >= 0)
    ),
    Rule("trainer.gradient_clip_algorithm", one_of(CLIP_ALGORITHMS), lambda v: v in (None, *CLIP_ALGORITHMS)),
    Rule("trainer.limit_val_batches", "a fraction in [0, 1] or batches >= 0", _limit),
    Rule("trainer.limit_test_batches", "a fraction in [0, 1] or batches >= 0", _limit),
)


@dataclass(frozen=True)
class StepPlan:
    """How many optimizer steps a run takes, and where its evaluations, logs and chunks fall."""

    total_steps: int  # optimizer steps of the whole run
    eval_every: int  # optimizer steps between evaluations (the last step is always evaluated)
    log_every: int  # optimizer steps between train/loss logs (0: never)
    chunk: int  # optimizer steps per training_step call: divides eval_every, log_every and total_steps
    accumulate: int  # minibatches per optimizer step
    batches_per_epoch: int  # minibatches in one pass over the training split
    fast_dev_run: bool = False
    val_part: float = 1.0  # the first part of the evaluation split that each evaluation scores
    test_part: float = 1.0  # the first part of the test split that the final test scores

    @classmethod
    def one_step_per_call(cls, batches_per_epoch: int) -> StepPlan:
        """What the DataModule serves when used outside the training code: one step per item."""
        return cls(1, 1, 0, 1, 1, batches_per_epoch)


def _option(trainer: DictConfig, name: str, default: Any = None) -> Any:
    return OmegaConf.select(trainer, name, default=default)


def make_plan(cfg: DictConfig, batches_per_epoch: int) -> StepPlan:
    """The plan of `cfg` (valid under `TRAINER_RULES`) for a training split of `batches_per_epoch`
    minibatches."""
    trainer = cfg.trainer
    accumulate = _option(trainer, "accumulate_grad_batches", 1)
    parts = {"val_part": eval_part(trainer, "limit_val_batches")}
    parts["test_part"] = eval_part(trainer, "limit_test_batches")
    fast_dev_run = _option(trainer, "fast_dev_run", False)
    if fast_dev_run:
        total = 1 if fast_dev_run is True else fast_dev_run  # Lightning's meaning: that many (1) batches
        return StepPlan(total, total, 0, total, accumulate, batches_per_epoch, True, **parts)
    limits = []
    if trainer.max_steps != -1:
        limits.append(trainer.max_steps)
    max_epochs = _option(trainer, "max_epochs", -1)
    if max_epochs not in (-1, None):
        limits.append(math.ceil(max_epochs * batches_per_epoch / accumulate))
    total = min(limits)
    log_every = trainer.log_every_n_steps
    chunk = math.gcd(cfg.chunk_steps, cfg.eval_every, log_every, total)
    return StepPlan(total, cfg.eval_every, log_every, chunk, accumulate, batches_per_epoch, **parts)


def trainer_arguments(trainer: DictConfig, plan: StepPlan) -> dict[str, Any]:
    """What `hydra.utils.instantiate(cfg.trainer, **these)` needs to carry out `plan` under chunked steps:
    Lightning counts evaluation and logging intervals in training_step calls (chunks)."""
    arguments: dict[str, Any] = {
        "max_steps": plan.total_steps,
        "max_epochs": -1,
        "val_check_interval": max(1, plan.eval_every // plan.chunk),
        "check_val_every_n_epoch": None,
        "log_every_n_steps": max(1, plan.log_every // plan.chunk),
        "fast_dev_run": 1 if plan.fast_dev_run else False,  # one chunk of `total_steps` optimizer steps
        "accumulate_grad_batches": 1,
        "gradient_clip_val": None,
        "gradient_clip_algorithm": None,
    }
    for name in ("limit_val_batches", "limit_test_batches"):
        limit = _option(trainer, name)
        arguments[name] = None if isinstance(limit, float) and 0 < limit < 1 else limit  # None: all
    return arguments


def eval_part(trainer: DictConfig, name: str) -> float:
    """The part of an evaluation split that `limit_val_batches` / `limit_test_batches` asks for: a fraction
    is served as the first part of the split (Lightning would round it to whole batches, of which the
    evaluation split has one), anything else leaves the split whole."""
    limit = _option(trainer, name)
    return limit if isinstance(limit, float) and 0 < limit < 1 else 1.0
