"""The project's one LightningModule: any net, cross-entropy, torchmetrics accuracy."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from hydra.utils import instantiate

from mnist1d.training import lightning_internals
from mnist1d.training.batches import Batch
from mnist1d.training.cuda_graphs import GraphedStep
from mnist1d.training.metrics import RunMetrics


class Classifier(RunMetrics, pl.LightningModule):
    """Wraps a plain `nn.Module` (composition: one module for every architecture).

    The net, optimizer and scheduler arrive as their configs (`_target_` dicts, as in conf/train/model/ etc.),
    which are saved as hyperparameters: `Classifier.load_from_checkpoint(path)` rebuilds the trained model
    from any checkpoint with nothing else to pass.

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
        self.init_metrics(num_classes, eval_split)

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
                logged.append((step, loss, (logits.argmax(-1) == minibatches[-1][1]).float().mean(-1)))
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
        name, loss = self.score_evaluation(self.net(x), y, dataloader_idx)
        self.log(name, loss, batch_size=len(y), add_dataloader_idx=False)

    def on_validation_epoch_end(self) -> None:
        self._log_at_step(self.evaluation_metrics())

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        x, y = batch
        self.log("final/test_loss", self.score_test(self.net(x), y), batch_size=len(y))

    def on_test_epoch_end(self) -> None:
        self._log_at_step(self.test_metrics())

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
