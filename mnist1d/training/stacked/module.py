"""The LightningModule of a stack: its members' nets as one `StackedNet`, each scored as its own run."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from pytorch_lightning.loggers import Logger
from torch import nn

from mnist1d.training.classifier import optimizer_and_schedule
from mnist1d.training.engine.batches import Batch
from mnist1d.training.engine.chunked_step import ChunkedSteps
from mnist1d.training.eval_norm import norm_statistics
from mnist1d.training.metrics import RunMetrics
from mnist1d.training.stacked.net import StackedNet, member_losses

NET_PREFIX = "net."  # where the Classifier keeps its net, in the stack's state_dict as in a member's


class MemberMetrics(RunMetrics, nn.Module):
    """One member's metrics (a run's, see RunMetrics), kept in the stack's state_dict under `members.<k>.`."""

    def __init__(self, num_classes: int, eval_split: str) -> None:
        super().__init__()
        self.init_metrics(num_classes, eval_split)


class StackedClassifier(ChunkedSteps):
    """The runs of `seeds` (one Classifier configuration) trained together: the engine's chunked training
    step (ChunkedSteps) on a `StackedNet`, with every member's arithmetic that of its own run.

    - Initial weights: member k's net is built right after `seed_everything(seeds[k])`, as its own run
      builds it, so it starts from the same weights bit for bit.
    - Loss: the sum of the members' mean cross-entropies, so each member's gradient is its own run's.
      Adam and the other element-wise optimizers then update each member as its own run would; gradient
      clipping by norm uses each member's own norm; the scheduler's schedule is the same for every member.
    - Failure: a member whose loss is not finite is frozen (`freeze`): its weights and optimizer state are
      cleared and its loss is masked (`alive`), so it takes no more updates while the others go on.
    - Scores: every evaluation and the test run each member alone (`StackedNet.member_forward`: its own
      net's computation on its weights), into its own metrics (`members[k]`), logged to its own loggers
      (`member_loggers[k]`); `evaluations[k]` holds its latest evaluation, `tests[k]` its test. BatchNorm
      scores with the statistics `eval_norm` names, as the member's own Classifier does.
    """

    def __init__(self, seeds: list[int], **classifier: Any) -> None:
        """`classifier`: the arguments of the members' Classifier (`fit.classifier_arguments`)."""
        super().__init__()
        self.save_hyperparameters()
        nets = []
        for seed in seeds:
            pl.seed_everything(seed, verbose=False)  # what the member's own run does before building its net
            nets.append(
                instantiate(
                    classifier["net"],
                    seq_length=classifier["seq_length"],
                    num_classes=classifier["num_classes"],
                )
            )
        self.net = StackedNet(nets)
        self.eval_split = classifier["eval_split"]
        self.members = nn.ModuleList(MemberMetrics(classifier["num_classes"], self.eval_split) for _ in seeds)
        self.register_buffer("alive", torch.ones(len(seeds)))
        self.member_loggers: list[list[Logger]] = [[] for _ in seeds]
        self.evaluations: list[dict[str, float] | None] = [None] * len(seeds)
        self.tests: list[dict[str, float] | None] = [None] * len(seeds)
        self._evaluation_losses: list[dict[str, torch.Tensor]] = [{} for _ in seeds]

    @property
    def size(self) -> int:
        return self.net.members

    def living(self) -> list[int]:
        """The members still training (not frozen by a non-finite loss)."""
        return [k for k in range(self.size) if self.alive[k]]

    def classifier_hparams(self) -> dict[str, Any]:
        """A member's hyperparameters: what its own run's Classifier saves."""
        return {key: value for key, value in self.hparams.items() if key != "seeds"}

    # --- training

    def training_loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The members' losses `(members,)` (a frozen member's masked to zero) and logits."""
        logits = self.net(x)
        return member_losses(logits, y) * self.alive, logits

    def clip_gradients(
        self,
        optimizer: torch.optim.Optimizer,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        """Gradient clipping as each member's own run does it: by value element-wise (Lightning's), by norm
        with the member's own total norm (`torch.nn.utils.clip_grad_norm_`'s arithmetic per member)."""
        if gradient_clip_algorithm not in (None, "norm"):
            super().clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)
            return
        grads = [p.grad for p in self.net.parameters() if p.grad is not None]
        norms = torch.stack([grad.flatten(1).norm(dim=1) for grad in grads]).norm(dim=0)
        scale = (gradient_clip_val / (norms + 1e-6)).clamp(max=1.0)
        for grad in grads:
            grad.mul_(scale.view(-1, *[1] * (grad.dim() - 1)))

    def _log_train(self, logged: list[tuple[int, torch.Tensor, torch.Tensor]]) -> None:
        """Each member's `(step, train/loss, train/acc)` rows to its own loggers; the progress bar shows the
        mean over the living members."""
        if not logged:
            return
        steps, losses, accuracies = zip(*logged, strict=True)
        losses, accuracies = torch.stack(losses).tolist(), torch.stack(accuracies).tolist()
        living = self.living()
        for step, loss, acc in zip(steps, losses, accuracies, strict=True):
            for k in living:
                for logger in self.member_loggers[k]:
                    logger.log_metrics({"train/loss": loss[k], "train/acc": acc[k]}, step=step)
            self.latest_train = {
                "train/loss": sum(loss[k] for k in living) / len(living),
                "train/acc": sum(acc[k] for k in living) / len(living),
            }

    def freeze(self, k: int) -> None:
        """Stop member k for good: clear its weights and optimizer state and mask its loss, so that it takes
        no more updates (its weights stay zero under any element-wise optimizer) and costs the others
        nothing."""
        self.alive[k] = 0
        with torch.no_grad():
            for tensor in self.net.state_dict(keep_vars=True).values():
                tensor[k] = 0
            for optimizer in self.trainer.optimizers:
                for state in optimizer.state.values():
                    for value in state.values():
                        if torch.is_tensor(value) and value.dim() > 0:
                            value[k] = 0

    # --- scores, each member alone

    def member_score(self, k: int, x: torch.Tensor) -> torch.Tensor:
        """Member k's logits for scoring, with `eval_norm`'s statistics (`Classifier.score`)."""
        with norm_statistics(self.net.architecture, self.hparams.get("eval_norm", "running")):
            return self.net.member_forward(k, x)

    def validation_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        x, y = batch
        for k in self.living():
            name, loss = self.members[k].score_evaluation(self.member_score(k, x), y, dataloader_idx)
            self._evaluation_losses[k][name] = loss

    def on_validation_epoch_end(self) -> None:
        for k in self.living():
            metrics = self._evaluation_losses[k] | self.members[k].evaluation_metrics()
            self._evaluation_losses[k] = {}
            self.evaluations[k] = {name: float(value) for name, value in metrics.items()}
            self._log_member(k, self.evaluations[k])

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        x, y = batch
        for k in self.living():
            loss = self.members[k].score_test(self.member_score(k, x), y)
            self._evaluation_losses[k]["final/test_loss"] = loss

    def on_test_epoch_end(self) -> None:
        for k in self.living():
            metrics = self._evaluation_losses[k] | self.members[k].test_metrics()
            self._evaluation_losses[k] = {}
            self.tests[k] = {name: float(value) for name, value in metrics.items()}
            self._log_member(k, self.tests[k])

    def _log_member(self, k: int, metrics: dict[str, float]) -> None:
        """A row of member k's loggers at the current optimizer step, as its own run logs it."""
        for logger in self.member_loggers[k]:
            logger.log_metrics(metrics, step=self.global_step)
            logger.save()

    def configure_optimizers(self) -> Any:
        return optimizer_and_schedule(self.hparams.optimizer, self.hparams.scheduler, self.parameters())

    # --- a member as its own run

    def member_state_dict(self, state_dict: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
        """Member k's part of the stack's `state_dict`, under the names its own Classifier uses (copies)."""
        own = {}
        metrics_prefix = f"members.{k}."
        for name, value in state_dict.items():
            if name.startswith(NET_PREFIX):
                own[name] = value[k].clone()
            elif name.startswith(metrics_prefix):
                own[name.removeprefix(metrics_prefix)] = value.clone()
        return own
