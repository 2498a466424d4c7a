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

Batch = tuple[torch.Tensor, torch.Tensor]
OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler]


class Classifier(pl.LightningModule):
    """Wraps a plain `nn.Module` (composition: one module for every architecture).

    Logs `train/loss` and `train/acc` every `log_every_n_steps` training steps (computed only on those steps,
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
    ) -> None:
        super().__init__()
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.eval_split = eval_split
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

    def _logs_this_step(self) -> bool:
        every = self.trainer.log_every_n_steps
        return every > 0 and (self.global_step + 1) % every == 0

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        logits = self.net(x)
        loss = F.cross_entropy(logits, y)
        if self._logs_this_step():
            self.log("train/loss", loss)
            self.log("train/acc", self.train_acc(logits, y))
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        x, y = batch
        logits = self.net(x)
        self.eval_acc.update(logits, y)
        self.log(f"{self.eval_split}/loss", F.cross_entropy(logits, y), batch_size=len(y))

    def on_validation_epoch_end(self) -> None:
        acc = self.eval_acc.compute()
        self.eval_acc.reset()
        self.best_acc.update(acc)
        self.log(f"{self.eval_split}/acc", acc)
        self.log(f"{self.eval_split}/acc_best", self.best_acc.compute())

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        x, y = batch
        logits = self.net(x)
        for metric in (self.test_acc, self.class_acc, self.confusion):
            metric.update(logits, y)
        self.log("final/test_loss", F.cross_entropy(logits, y), batch_size=len(y))

    def on_test_epoch_end(self) -> None:
        self.log("final/test_acc", self.test_acc.compute())
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
