"""The training step, many optimizer steps per Lightning `training_step` call.

`ChunkedSteps` is the LightningModule half of the engine: its `training_step` takes a chunk of minibatches
(`TrainingChunks`) and makes one optimizer step per `accumulate` of them, with the optimizer, clipping and
scheduler steps of Lightning's automatic optimization, so results do not depend on the chunk size and equal
automatic optimization (tested, bit for bit on the CPU). The module that uses it provides the loss
(`training_loss`) and hyperparameters `accumulate`, `log_every`, `gradient_clip_val` and
`gradient_clip_algorithm`.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch

from mnist1d.training.engine import lightning_internals
from mnist1d.training.engine.batches import Batch
from mnist1d.training.engine.cuda_graphs import GraphedStep


class ChunkedSteps(pl.LightningModule):
    """A LightningModule whose `training_step` takes a chunk of optimizer steps (see the module docstring)."""

    # Set by the CudaGraphs callback when this run's step is replayed as a CUDA graph (cuda_graphs.py).
    step_runner: GraphedStep | None = None
    # The latest logged train/loss and train/acc (the progress bar shows them).
    latest_train: dict[str, float] | None = None

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False  # `training_step` steps the optimizer itself

    def training_loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The loss of one minibatch and its logits."""
        raise NotImplementedError

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
            minibatch_loss, logits = self.training_loss(x, y)
            if hp.accumulate > 1:
                minibatch_loss = minibatch_loss / hp.accumulate  # as automatic optimization scales it
            minibatch_loss.sum().backward()  # a stack's loss has one value per run (StackedClassifier)
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

    def log_at_step(self, metrics: dict[str, Any]) -> None:
        """`self.log_dict` with the optimizer step as the loggers' x-axis (Lightning's own counts
        training_step calls, i.e. chunks)."""
        self.log_dict(metrics | {"step": float(self.global_step)})
