"""The project's one LightningModule: any net, cross-entropy, torchmetrics accuracy."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from torchmetrics import MaxMetric
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from mnist1d.config.splits import TRAIN_SPLIT
from mnist1d.training.engine.batches import Batch
from mnist1d.training.engine.chunked_step import ChunkedSteps


class Classifier(ChunkedSteps):
    """Wraps a plain `nn.Module` (composition: one module for every architecture).

    The net, optimizer and scheduler arrive as their configs (`_target_` dicts, as in conf/train/model/ etc.),
    which are saved as hyperparameters: `Classifier.load_from_checkpoint(path)` rebuilds the trained model
    from any checkpoint with nothing else to pass.

    Training: cross-entropy (`training_loss`), stepped by the engine's `training_step` (ChunkedSteps), which
    takes a chunk of optimizer steps per call and logs `train/loss` and `train/acc` every `log_every` of them.
    Every evaluation logs `{eval_split}/loss`, `{eval_split}/acc` and `{eval_split}/acc_best` (with the
    DataModule's `eval_train_split`, a second dataloader scores the whole training split: `train_split/loss`,
    `train_split/acc`); the test after training logs `final/test_acc`, `final/test_loss` and
    `final/test_acc_class_<digit>` and keeps the per-class accuracy and confusion matrix in `final_report`.
    `predict_step` returns class probabilities.
    """

    def __init__(
        self,
        net: dict[str, Any],
        optimizer: dict[str, Any],
        scheduler: dict[str, Any] | None = None,
        seq_length: int = 40,
        num_classes: int = 10,
        eval_split: str = "test",
        log_every: int = 50,
        accumulate: int = 1,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = instantiate(net, seq_length=seq_length, num_classes=num_classes)
        self.eval_split = eval_split
        self.eval_acc = MulticlassAccuracy(num_classes, average="micro")
        self.train_split_acc = MulticlassAccuracy(num_classes, average="micro")
        self.best_acc = MaxMetric()
        self.best_acc.persistent(True)
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")
        self.class_acc = MulticlassAccuracy(num_classes, average=None)
        self.confusion = MulticlassConfusionMatrix(num_classes)
        self.final_report: dict[str, Any] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.net(x)
        return F.cross_entropy(logits, y), logits

    def validation_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Dataloader 0 is the evaluation split; dataloader 1, when the DataModule serves it, the whole
        training split. Metric names carry no dataloader suffix."""
        x, y = batch
        logits = self.net(x)
        split, accuracy = (
            (self.eval_split, self.eval_acc) if dataloader_idx == 0 else (TRAIN_SPLIT, self.train_split_acc)
        )
        accuracy.update(logits, y)
        self.log(f"{split}/loss", F.cross_entropy(logits, y), batch_size=len(y), add_dataloader_idx=False)

    def on_validation_epoch_end(self) -> None:
        acc = self.eval_acc.compute()
        self.eval_acc.reset()
        self.best_acc.update(acc)
        best = self.best_acc.compute()
        metrics = {f"{self.eval_split}/acc": acc, f"{self.eval_split}/acc_best": best}
        if self.train_split_acc.update_called:
            metrics[f"{TRAIN_SPLIT}/acc"] = self.train_split_acc.compute()
            self.train_split_acc.reset()
        self.log_at_step(metrics)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        x, y = batch
        logits = self.net(x)
        for metric in (self.test_acc, self.class_acc, self.confusion):
            metric.update(logits, y)
        self.log("final/test_loss", F.cross_entropy(logits, y), batch_size=len(y))

    def on_test_epoch_end(self) -> None:
        per_class = self.class_acc.compute()
        by_class = {f"final/test_acc_class_{digit}": acc for digit, acc in enumerate(per_class)}
        self.log_at_step({"final/test_acc": self.test_acc.compute(), **by_class})
        self.final_report = {
            "per_class_acc": per_class.tolist(),
            "confusion_matrix": self.confusion.compute().tolist(),
        }
        for metric in (self.test_acc, self.class_acc, self.confusion):
            metric.reset()

    def predict_step(self, batch: Batch | torch.Tensor, batch_idx: int) -> torch.Tensor:
        """Class probabilities, (batch, num_classes), for inputs `x` or `(x, y)` batches."""
        x = batch[0] if isinstance(batch, tuple | list) else batch
        return self.net(x).softmax(-1)

    def configure_optimizers(self) -> Any:
        optimizer = instantiate(self.hparams.optimizer)(self.parameters())
        if not self.hparams.scheduler:
            return optimizer
        scheduler = {"scheduler": instantiate(self.hparams.scheduler)(optimizer), "interval": "step"}
        return {"optimizer": optimizer, "lr_scheduler": scheduler}
