"""What one run measures (torchmetrics), apart from how it is logged: for the Classifier, which is one run,
and for each member of a stack, which is one run among several in one module."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torchmetrics import MaxMetric
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from mnist1d.config.splits import TRAIN_SPLIT


class RunMetrics:
    """The metrics of one run, as attributes of the `nn.Module` that mixes this in (so their states, e.g.
    the best accuracy so far, are in its state_dict under these names).

    Every evaluation scores the evaluation split (dataloader 0: `{eval_split}/loss`, `{eval_split}/acc`, the
    best so far `{eval_split}/acc_best`) and, when served, the whole training split (dataloader 1:
    `train_split/loss`, `train_split/acc`); the test after training scores the test split
    (`final/test_loss`, `final/test_acc`, `final/test_acc_class_<digit>`) and keeps the per-class accuracy
    and the confusion matrix in `final_report`.
    """

    def init_metrics(self, num_classes: int, eval_split: str) -> None:
        self.eval_split = eval_split
        self.eval_acc = MulticlassAccuracy(num_classes, average="micro")
        self.train_split_acc = MulticlassAccuracy(num_classes, average="micro")
        self.best_acc = MaxMetric()
        self.best_acc.persistent(True)
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")
        self.class_acc = MulticlassAccuracy(num_classes, average=None)
        self.confusion = MulticlassConfusionMatrix(num_classes)
        self.final_report: dict[str, Any] = {}

    def score_evaluation(
        self, logits: torch.Tensor, y: torch.Tensor, dataloader_idx: int
    ) -> tuple[str, torch.Tensor]:
        """Score one evaluation batch; its loss and the name it is logged under."""
        split, accuracy = (
            (self.eval_split, self.eval_acc) if dataloader_idx == 0 else (TRAIN_SPLIT, self.train_split_acc)
        )
        accuracy.update(logits, y)
        return f"{split}/loss", F.cross_entropy(logits, y)

    def evaluation_metrics(self) -> dict[str, torch.Tensor]:
        """The accuracies of the evaluation that just ended (and the best so far); ready for the next one."""
        acc = self.eval_acc.compute()
        self.eval_acc.reset()
        self.best_acc.update(acc)
        metrics = {f"{self.eval_split}/acc": acc, f"{self.eval_split}/acc_best": self.best_acc.compute()}
        if self.train_split_acc.update_called:
            metrics[f"{TRAIN_SPLIT}/acc"] = self.train_split_acc.compute()
            self.train_split_acc.reset()
        return metrics

    def score_test(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Score one test batch; its loss (`final/test_loss`)."""
        for metric in (self.test_acc, self.class_acc, self.confusion):
            metric.update(logits, y)
        return F.cross_entropy(logits, y)

    def test_metrics(self) -> dict[str, torch.Tensor]:
        """The test's accuracy and per-class accuracies; `final_report` gets the lists and the confusion
        matrix."""
        per_class = self.class_acc.compute()
        by_class = {f"final/test_acc_class_{digit}": acc for digit, acc in enumerate(per_class)}
        self.final_report = {
            "per_class_acc": per_class.tolist(),
            "confusion_matrix": self.confusion.compute().tolist(),
        }
        metrics = {"final/test_acc": self.test_acc.compute(), **by_class}
        for metric in (self.test_acc, self.class_acc, self.confusion):
            metric.reset()
        return metrics
