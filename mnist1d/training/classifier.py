"""The project's one LightningModule: any net, cross-entropy, torchmetrics accuracy."""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterable
from typing import IO, Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from torchmetrics import MaxMetric
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from mnist1d.config.splits import TRAIN_SPLIT
from mnist1d.training import lightning_internals
from mnist1d.training.batches import Batch
from mnist1d.training.cuda_graphs import GraphedStep
from mnist1d.trusted import UntrustedFileError, check_hyperparameters


class Classifier(pl.LightningModule):
    """Wraps a plain `nn.Module` (composition: one module for every architecture).

    The net, optimizer and scheduler arrive as their configs (`_target_` dicts, as in conf/train/model/ etc.),
    which are saved as hyperparameters: `Classifier.load_from_checkpoint(path)` rebuilds the trained model
    from any checkpoint with nothing else to pass, once the file is found to name only allowed code
    (`mnist1d.trusted`).

    Each `training_step` call takes one optimizer step per `accumulate` minibatches of its chunk (see
    `TrainingChunks`): Lightning's per-call bookkeeping (hooks, progress, logging) is then paid once per
    chunk instead of once per step, which for the small nets costs as much as the step itself. The optimizer,
    clipping and scheduler steps are those of automatic optimization, so the results do not depend on the
    chunk size and equal Lightning's automatic optimization (tested), and `trainer.global_step` still
    counts optimizer steps.

    Logs `train/loss` and `train/acc` every `log_every` optimizer steps (computed only on those steps,
    so other steps cost nothing beyond forward/backward), `{eval_split}/loss`, `{eval_split}/acc` and
    `{eval_split}/acc_best` at every evaluation (with the DataModule's `eval_train_split`, a second
    evaluation dataloader scores the whole training split: `train_split/loss`, `train_split/acc`), and after
    training, on the test split, `final/test_acc`,
    `final/test_loss`, `final/test_acc_class_<digit>`, with the per-class accuracy and confusion matrix kept
    in `final_report`. `predict_step` returns class probabilities.
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
        self.automatic_optimization = False
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

    @classmethod
    def load_from_checkpoint(  # type: ignore[override]
        cls,
        checkpoint_path: str | os.PathLike[str] | IO[bytes],
        map_location: Any = None,
        hparams_file: Any = None,
        strict: bool | None = None,
        weights_only: bool | None = None,
        *,
        trusted_nets: Iterable[str] = (),
        **kwargs: Any,
    ) -> Classifier:
        """Lightning's, after checking what the checkpoint's hyperparameters name (read with
        `weights_only=True`): a crafted file raises `UntrustedFileError` before anything is built. Keyword
        arguments replace saved hyperparameters, as in Lightning; `trusted_nets` names net classes outside
        `mnist1d.models` (dotted paths) that you vouch for; `hparams_file` (hyperparameters from another
        file) is refused, since the checkpoint holds them all."""
        if hparams_file is not None:
            raise ValueError("hparams_file is not supported: the checkpoint holds every hyperparameter")
        saved = {k: v for k, v in saved_hyperparameters(checkpoint_path).items() if k not in kwargs}
        check_hyperparameters(saved, checkpoint_path, trusted=trusted_nets)
        return super().load_from_checkpoint(
            checkpoint_path, map_location, strict=strict, weights_only=weights_only, **kwargs
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    # Set by the CudaGraphs callback when this run's step is replayed as a CUDA graph (cuda_graphs.py).
    step_runner: GraphedStep | None = None
    # The latest logged train/loss and train/acc (the progress bar shows them).
    latest_train: dict[str, float] | None = None

    def training_step(self, chunk: list[Batch], batch_idx: int) -> torch.Tensor:
        """One optimizer step per `accumulate` minibatches; returns the steps' mean losses (detached).

        The steps use the torch optimizer itself: through Lightning's wrapper each would dispatch three
        callback hooks, which no callback here uses and which cost as much as a small net's step, so
        Lightning's step counter is advanced here (see `lightning_internals`). Loss scaling (precision
        16-mixed) is not done, so validation refuses that precision. With a `step_runner` (CUDA graphs),
        each step whose minibatch fits its buffers is a graph replay of the same `_optimizer_step`.
        """
        optimizer = self.optimizers().optimizer
        scheduler = self.lr_schedulers()
        count_step = lightning_internals.optimizer_step_counter(self.trainer)
        runner, accumulate, log_every = self.step_runner, self.hparams.accumulate, self.hparams.log_every
        step = self.global_step
        losses, logged = [], []
        for first in range(0, len(chunk), accumulate):
            minibatches = chunk[first : first + accumulate]
            if runner is not None and runner.accepts(*minibatches[0]):
                loss, logits = runner(*minibatches[0])
                loss = loss.clone()  # the graph's output buffer: the next replay overwrites it
            else:
                loss, logits = self._optimizer_step(optimizer, minibatches)
            count_step()
            step += 1
            if scheduler is not None:
                scheduler.step()
            losses.append(loss)
            if log_every > 0 and step % log_every == 0:
                logged.append((step, loss, (logits.argmax(-1) == minibatches[-1][1]).float().mean()))
        self._log_train(logged)
        return torch.stack(losses)

    def _optimizer_step(
        self, optimizer: torch.optim.Optimizer, minibatches: list[Batch]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer step on `minibatches` (accumulated): its loss and the last minibatch's logits, both
        detached. Also the function a CUDA graph captures (see cuda_graphs.py)."""
        hp = self.hparams
        optimizer.zero_grad()
        loss = None
        for x, y in minibatches:
            logits = self.net(x)
            minibatch_loss = F.cross_entropy(logits, y)
            if hp.accumulate > 1:
                minibatch_loss = minibatch_loss / hp.accumulate  # as automatic optimization scales it
            minibatch_loss.backward()
            loss = minibatch_loss.detach() if loss is None else loss + minibatch_loss.detach()
        if hp.gradient_clip_val:
            self.clip_gradients(optimizer, hp.gradient_clip_val, hp.gradient_clip_algorithm)
        optimizer.step()
        return loss, logits.detach()

    def _log_train(self, logged: list[tuple[int, torch.Tensor, torch.Tensor]]) -> None:
        """Send the chunk's `(step, train/loss, train/acc)` rows straight to the loggers, with the optimizer
        step as their x-axis: the values are read from the device once per chunk, where Lightning's
        `self.log` would read each one and spend about a millisecond of bookkeeping on it. (So they are
        not in `trainer.callback_metrics`.)"""
        if not logged:
            return
        steps, losses, accuracies = zip(*logged, strict=True)
        values = zip(torch.stack(losses).tolist(), torch.stack(accuracies).tolist(), strict=True)
        for step, (loss, acc) in zip(steps, values, strict=True):
            self.latest_train = {"train/loss": loss, "train/acc": acc}
            for logger in self.loggers:
                logger.log_metrics(self.latest_train, step=step)

    def _log_at_step(self, metrics: dict[str, torch.Tensor]) -> None:
        """Log with the optimizer step as the loggers' x-axis (Lightning's own counts training_step calls)."""
        self.log_dict(metrics | {"step": float(self.global_step)})

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
        self._log_at_step(metrics)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        x, y = batch
        logits = self.net(x)
        for metric in (self.test_acc, self.class_acc, self.confusion):
            metric.update(logits, y)
        self.log("final/test_loss", F.cross_entropy(logits, y), batch_size=len(y))

    def on_test_epoch_end(self) -> None:
        per_class = self.class_acc.compute()
        by_class = {f"final/test_acc_class_{digit}": acc for digit, acc in enumerate(per_class)}
        self._log_at_step({"final/test_acc": self.test_acc.compute(), **by_class})
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


def read_checkpoint(checkpoint: str | os.PathLike[str] | IO[bytes]) -> dict[str, Any]:
    """A checkpoint read as data (`weights_only=True`: tensors, containers, numbers, strings); a file object
    is rewound. One that holds anything else raises `UntrustedFileError`."""
    position = checkpoint.tell() if hasattr(checkpoint, "seek") else None
    try:
        saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as refused:  # what torch's weights-only unpickler raises
        reason = str(refused).split(".")[0]
        raise UntrustedFileError(checkpoint, "it", f" holds more than data ({reason})") from None
    if position is not None:
        checkpoint.seek(position)
    return saved


def saved_hyperparameters(checkpoint: str | os.PathLike[str] | IO[bytes]) -> dict[str, Any]:
    """A checkpoint's hyperparameters, read as data."""
    return read_checkpoint(checkpoint).get(Classifier.CHECKPOINT_HYPER_PARAMS_KEY, {})
