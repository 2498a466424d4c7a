"""A run's schedule in optimizer steps, and the Lightning Trainer arguments that carry it out.

Lightning counts its loops in `training_step` calls, and here each call takes a chunk of optimizer steps
(see `Classifier.training_step`). So the Trainer options of the config are read here, once: each keeps
Lightning's documented meaning in optimizer steps and passes over the training data, or is refused before
any work (`refusals`).

- translated: `max_steps` / `max_epochs` (an epoch is one pass over the training split, whichever limit comes
  first ends the run), `fast_dev_run`, `log_every_n_steps`, `accumulate_grad_batches` and
  `gradient_clip_val` / `gradient_clip_algorithm` (done by the chunked step), fractions of
  `limit_val_batches` / `limit_test_batches` (the first part of the split), `enable_checkpointing`,
  `enable_progress_bar` (a bar that counts optimizer steps);
- refused: `REFUSED` (they would count chunks, or are set elsewhere) and more than one device or node;
- passed through unchanged: every other option (`min_steps`, `max_time`, `precision`, `profiler`, ...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from mnist1d.dataset_config import is_int

REFUSED = {
    "val_check_interval": "evaluation runs every `eval_every` optimizer steps: set eval_every instead",
    "check_val_every_n_epoch": "evaluation runs every `eval_every` optimizer steps: set eval_every instead",
    "limit_train_batches": "it would count chunks of steps: set trainer.max_steps or trainer.max_epochs",
    "overfit_batches": "it would count chunks of steps: train on a smaller data.num_samples instead",
    "min_epochs": "it would count chunks of steps: set trainer.min_steps instead",
    "reload_dataloaders_every_n_epochs": "the training data is served as one step-indexed stream",
    "logger": "choose loggers with the logger group (logger=csv, logger=wandb, logger=tensorboard)",
    "callbacks": "add callbacks to the callbacks group (+callbacks.<name>._target_=...)",
}
SINGLE_DEVICE = "one run trains on one device: run several at once with sweep.py's launchers instead"
# The most optimizer steps a run may take: two days at the fastest rate measured here (logistic regression,
# about 5,500 steps/s on a CPU), far beyond any budget of the studies; a larger number is a typo.
MAX_STEPS = 10**9
CLIP_ALGORITHMS = ("norm", "value")
# Options that this module turns into other Trainer arguments (or into the chunked step's work).
TRANSLATED = ("max_steps", "max_epochs", "fast_dev_run", "log_every_n_steps", "accumulate_grad_batches")
TRANSLATED += ("gradient_clip_val", "gradient_clip_algorithm", "limit_val_batches", "limit_test_batches")
TRANSLATED += ("enable_checkpointing", "enable_progress_bar")


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

    @property
    def epochs(self) -> float:
        """Passes over the training split the whole run makes."""
        return self.total_steps * self.accumulate / self.batches_per_epoch


def _option(trainer: DictConfig, name: str, default: Any = None) -> Any:
    return OmegaConf.select(trainer, name, default=default)


def make_plan(cfg: DictConfig, batches_per_epoch: int) -> StepPlan:
    """The plan of `cfg` for a training split of `batches_per_epoch` minibatches (call `refusals` first)."""
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


def refusals(trainer: DictConfig) -> list[str]:
    """Problems with the Trainer options of `cfg.trainer`, one message per refused option."""
    problems = [
        f"trainer.{name} is not supported here: {why}" for name, why in REFUSED.items() if name in trainer
    ]
    for name in ("devices", "num_nodes"):
        value = _option(trainer, name, 1)
        if value not in (1, "1") and not (isinstance(value, list | tuple) and len(value) == 1):
            problems.append(f"trainer.{name}={value!r} is invalid: must be 1 ({SINGLE_DEVICE})")
    strategy = _option(trainer, "strategy", "auto")
    if strategy not in ("auto", "single_device"):
        problems.append(f"trainer.strategy={strategy!r} is invalid: must be auto ({SINGLE_DEVICE})")
    max_steps, max_epochs = trainer.get("max_steps"), _option(trainer, "max_epochs", -1)
    fast_dev_run = _option(trainer, "fast_dev_run", False)
    if not (is_int(max_steps) and (1 <= max_steps <= MAX_STEPS or max_steps == -1)):
        problems.append(
            f"trainer.max_steps={max_steps!r} is invalid: must be an integer in [1, {MAX_STEPS}], or -1"
        )
    if not (
        max_epochs is None or (is_int(max_epochs) and (1 <= max_epochs <= MAX_STEPS or max_epochs == -1))
    ):
        problems.append(
            f"trainer.max_epochs={max_epochs!r} is invalid: must be an integer in [1, {MAX_STEPS}], or -1"
        )
    if max_steps == -1 and max_epochs in (-1, None) and not fast_dev_run:
        problems.append("trainer.max_steps=-1 with trainer.max_epochs=-1 would train forever: set either")
    if not (isinstance(fast_dev_run, bool) or (is_int(fast_dev_run) and 0 <= fast_dev_run <= MAX_STEPS)):
        allowed = f"true, false or steps in [0, {MAX_STEPS}]"
        problems.append(f"trainer.fast_dev_run={fast_dev_run!r} is invalid: must be {allowed}")
    accumulate = _option(trainer, "accumulate_grad_batches", 1)
    if not (is_int(accumulate) and accumulate >= 1):
        problems.append(f"trainer.accumulate_grad_batches={accumulate!r} is invalid: must be an integer >= 1")
    clip = _option(trainer, "gradient_clip_val")
    if clip is not None and not (isinstance(clip, int | float) and not isinstance(clip, bool) and clip >= 0):
        problems.append(f"trainer.gradient_clip_val={clip!r} is invalid: must be a number >= 0 or null")
    algorithm = _option(trainer, "gradient_clip_algorithm")
    if algorithm not in (None, *CLIP_ALGORITHMS):
        problems.append(
            f"trainer.gradient_clip_algorithm={algorithm!r} is invalid: must be one of "
            f"{list(CLIP_ALGORITHMS)}"
        )
    for name in ("limit_val_batches", "limit_test_batches"):
        limit = _option(trainer, name)
        valid = (
            limit is None or (is_int(limit) and limit >= 0) or (isinstance(limit, float) and 0 <= limit <= 1)
        )
        if not valid:
            problems.append(
                f"trainer.{name}={limit!r} is invalid: must be a fraction in [0, 1] or batches >= 0"
            )
    return problems
