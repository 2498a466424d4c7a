"""What each member of a stack keeps as its own run: its failure, its evaluation history, its checkpoints."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import Logger

from mnist1d.training.callbacks import DivergenceGuard, InterruptCheckpoint, NonFiniteLossError, RunRecorder
from mnist1d.training.checkpoint_io import CHECKPOINTS_DIR, LAST
from mnist1d.training.stacked.module import StackedClassifier

log = logging.getLogger(__name__)


@dataclass
class Member:
    """One member's run: where it writes, what its own run would keep, and how it ended."""

    seed: int
    run_dir: Path
    datamodule_hparams: dict[str, Any]  # its own DataModule's (they differ from the stack's in the seed)
    checkpoints: list[ModelCheckpoint]  # its checkpoint callbacks, run by MemberRuns, not by the Trainer
    loggers: list[Logger] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)
    failure: NonFiniteLossError | None = None  # why it failed
    failed_at: int | None = None  # the optimizer step at which its failure was found
    pending: list[Path] = field(default_factory=list)  # checkpoints to write from the next stack checkpoint


class MemberTrainer:
    """The stack's Trainer as one member's checkpoint callbacks see it: its own metrics and loggers, and a
    `save_checkpoint` that names the file the member's checkpoint goes to (MemberRuns writes it from the
    stack's checkpoint). Everything else is the stack's Trainer, so Lightning's ModelCheckpoint decides
    when and what to save for the member exactly as in the member's own run."""

    def __init__(self, trainer: pl.Trainer, member: Member, metrics: dict[str, float]) -> None:
        self._trainer, self._member = trainer, member
        self.callback_metrics = {name: torch.tensor(value) for name, value in metrics.items()}
        self.callback_metrics["step"] = torch.tensor(float(trainer.global_step))
        self.loggers = member.loggers

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trainer, name)

    def save_checkpoint(self, filepath: str | Path, weights_only: bool | None = None, **_: Any) -> None:
        self._member.pending.append(Path(filepath))


class MemberRuns(DivergenceGuard):
    """Keeps each member of the stack its own run:

    - a member whose loss is not finite fails (`NonFiniteLossError`, the step named as its own run names
      it) and is frozen while the others go on; when none is left, training stops;
    - every evaluation adds to the member's history (results.json) and runs the member's own checkpoint
      callbacks (best and last by default) through `MemberTrainer`;
    - whenever the stack's checkpoint is saved (at evaluations, or by the interrupt checkpoint), each
      member's checkpoints are written from it: the file its own run would have written, loadable with
      `Classifier.load_from_checkpoint` and resumable as its own run (`member_checkpoint`). After an
      interruption each member's `last.ckpt` holds where it stopped.

    The members' histories, failures and checkpoint callbacks' states are in the stack's checkpoint, so a
    resumed stack continues each member's run.
    """

    def __init__(self, members: list[Member]) -> None:
        super().__init__()
        self.members = members

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for member in self.members:
            for callback in member.checkpoints:
                callback.setup(MemberTrainer(trainer, member, {}), pl_module, stage="fit")

    def diverged(self, trainer: pl.Trainer, pl_module: StackedClassifier, run: int, step: int) -> None:
        member = self.members[run]
        member.failure, member.failed_at = NonFiniteLossError.at(step), trainer.global_step
        pl_module.freeze(run)
        log.warning("seed %d: %s; the other members go on", member.seed, member.failure)
        if not pl_module.living():
            trainer.should_stop = True

    def on_validation_end(self, trainer: pl.Trainer, pl_module: StackedClassifier) -> None:
        if trainer.sanity_checking:
            return
        for k in pl_module.living():
            member, metrics = self.members[k], pl_module.evaluations[k]
            prefix = f"{pl_module.eval_split}/"
            member.history.append(
                {"step": trainer.global_step} | {n: v for n, v in metrics.items() if n.startswith(prefix)}
            )
            for callback in member.checkpoints:
                callback.on_validation_end(MemberTrainer(trainer, member, metrics), pl_module)
        line = "  ".join(
            f"seed {self.members[k].seed} {pl_module.evaluations[k][f'{pl_module.eval_split}/acc']:.4f}"
            for k in pl_module.living()
        )
        log.info("step %d/%d  %s/acc: %s", trainer.global_step, trainer.max_steps, pl_module.eval_split, line)

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: StackedClassifier, checkpoint: dict[str, Any]
    ) -> None:
        interrupted = not any(member.pending for member in self.members)
        for k in pl_module.living():
            member = self.members[k]
            paths = member.pending or ([member.run_dir / CHECKPOINTS_DIR / LAST] if interrupted else [])
            member.pending = []
            for path in paths:
                trainer.strategy.checkpoint_io.save_checkpoint(
                    self.member_checkpoint(checkpoint, k, pl_module), path
                )

    def member_checkpoint(
        self, checkpoint: dict[str, Any], k: int, module: StackedClassifier
    ) -> dict[str, Any]:
        """Member k's part of the stack's `checkpoint`: what its own run's checkpoint would hold at this
        step (its weights, optimizer state, data order, history, checkpoint callbacks' states, hyper-
        parameters and its DataModule's), so it loads and resumes as that run's."""
        member = self.members[k]
        own = dict(checkpoint)
        own["state_dict"] = module.member_state_dict(checkpoint["state_dict"], k)
        own["loops"] = copy.deepcopy(checkpoint["loops"])
        fit_state = own["loops"]["fit_loop"]["state_dict"]
        if "combined_loader" in fit_state:
            fit_state["combined_loader"] = [module.trainer.train_dataloader.member_state(k)]
        own["callbacks"] = {
            RunRecorder.__qualname__: {"history": list(member.history)},
            **{cb.state_key: cb.state_dict() for cb in member.checkpoints},
        }
        interrupt = checkpoint["callbacks"].get(InterruptCheckpoint.__qualname__)
        if interrupt is not None:
            own["callbacks"][InterruptCheckpoint.__qualname__] = interrupt
        own["optimizer_states"] = [
            member_optimizer_state(state, k) for state in checkpoint["optimizer_states"]
        ]
        own["hparams_name"], own["hyper_parameters"] = "kwargs", module.classifier_hparams()
        own["datamodule_hyper_parameters"] = member.datamodule_hparams
        return own

    def state_dict(self) -> dict[str, Any]:
        return {
            "members": [
                {
                    "history": member.history,
                    "failure": None if member.failure is None else str(member.failure),
                    "failed_at": member.failed_at,
                    "checkpoints": [callback.state_dict() for callback in member.checkpoints],
                }
                for member in self.members
            ]
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        for member, state in zip(self.members, state_dict["members"], strict=True):
            member.history, member.failed_at = list(state["history"]), state["failed_at"]
            member.failure = None if state["failure"] is None else NonFiniteLossError(state["failure"])
            for callback, callback_state in zip(member.checkpoints, state["checkpoints"], strict=True):
                callback.load_state_dict(callback_state)


def member_optimizer_state(state: dict[str, Any], k: int) -> dict[str, Any]:
    """Member k's part of an optimizer state of stacked weights: every per-weight tensor's `[k]` (step
    counts, scalars, are shared)."""
    return {
        "state": {
            index: {
                name: value[k].clone() if torch.is_tensor(value) and value.dim() > 0 else value
                for name, value in per_weight.items()
            }
            for index, per_weight in state["state"].items()
        },
        "param_groups": state["param_groups"],
    }
