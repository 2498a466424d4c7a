"""The project's one LightningModule: any net, cross-entropy, torchmetrics accuracy."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MaxMetric
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from mnist1d.training import lightning_internals
from mnist1d.training.batches import Batch

OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler]


class Classifier(pl.LightningModule):
    """Wraps a plain `nn.Module` (composition: one module for every architecture).

    Each `training_step` call takes one optimizer step per minibatch of its chunk (see `TrainingChunks`):
    Lightning's per-call bookkeeping (hooks, progress, logging) is then paid once per chunk instead of once
    per step, which for the small nets costs as much as the step itself. The optimizer and scheduler steps are
    those of automatic optimization, so the results do not depend on the chunk size (tested), and
    `trainer.global_step` still counts optimizer steps.

    Logs `train/loss` and `train/acc` every `log_every` training steps (computed only on those steps,
    so other steps cost nothing beyond forward/backward), `{eval_split}/loss`, `{eval_split}/acc` and
    `{eval_split}/acc_best` at every evaluation, and after training, on the test split, `final/test_acc`,
    `final/test_loss` plus the per-class accuracy and confusion matrix kept in `final_report`.
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        num_classes: int = 10,
        eval_split: str = "test",
        log_every: int = 50,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.eval_split = eval_split
        self.log_every = log_every
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.eval_acc = MulticlassAccuracy(num_classes, average="micro")
        self.best_acc = MaxMetric()
        self.best_acc.persistent(True)
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")
        self.class_acc = MulticlassAccuracy(num_classes, average=None)
        self.confusion = MulticlassConfusionMatrix(num_classes)
        self.final_report: dict[str, Any] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, chunk: list[Batch], batch_idx: int) -> torch.Tensor:
        """One optimizer step per minibatch; returns the chunk's losses (detached), one per step.

        The steps use the torch optimizer itself: through Lightning's wrapper each would dispatch three
        callback hooks, which no callback here uses and which cost as much as a small net's step, so
        Lightning's step counter is advanced here (see `lightning_internals`). Loss scaling (precision
        16-mixed) is not done, so validation refuses that precision.
        """
        optimizer = self.optimizers().optimizer
        scheduler = self.lr_schedulers()
        count_step = lightning_internals.optimizer_step_counter(self.trainer)
        losses = []
        for x, y in chunk:
            logits = self.net(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            count_step()
            if scheduler is not None:
                scheduler.step()
            losses.append(loss.detach())
            if self.log_every > 0 and self.global_step % self.log_every == 0:
                self._log_at_step({"train/loss": loss, "train/acc": self.train_acc(logits, y)})
        return torch.stack(losses)

    def _log_at_step(self, metrics: dict[str, torch.Tensor]) -> None:
        """Log with the optimizer step as the loggers' x-axis (Lightning's own counts training_step calls)."""
        self.log_dict(metrics | {"step": float(self.global_step)})

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        x, y = batch
        logits = self.net(x)
        self.eval_acc.update(logits, y)
        self.log(f"{self.eval_split}/loss", F.cross_entropy(logits, y), batch_size=len(y))

    def on_validation_epoch_end(self) -> None:
        acc = self.eval_acc.compute()
        self.eval_acc.reset()
        self.best_acc.update(acc)
        best = self.best_acc.compute()
        self._log_at_step({f"{self.eval_split}/acc": acc, f"{self.eval_split}/acc_best": best})

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        x, y = batch
        logits = self.net(x)
        for metric in (self.test_acc, self.class_acc, self.confusion):
            metric.update(logits, y)
        self.log("final/test_loss", F.cross_entropy(logits, y), batch_size=len(y))

    def on_test_epoch_end(self) -> None:
        self._log_at_step({"final/test_acc": self.test_acc.compute()})
        self.final_report = {
            "per_class_acc": self.class_acc.compute().tolist(),
            "confusion_matrix": self.confusion.compute().tolist(),
        }
        for metric in (self.test_acc, self.class_acc, self.confusion):
            metric.reset()

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = {"scheduler": self.scheduler_factory(optimizer), "interval": "step"}
        return {"optimizer": optimizer, "lr_scheduler": scheduler}
