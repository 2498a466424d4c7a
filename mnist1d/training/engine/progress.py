"""A progress bar that counts optimizer steps: Lightning's own counts training_step calls (chunks)."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ProgressBar
from tqdm.auto import tqdm

SHOWN = ("train/loss", "train/acc")


class StepProgressBar(ProgressBar):
    """One bar for the whole run: optimizer steps done of `total_steps`, steps/s, the time left, the latest
    training loss and accuracy and the latest evaluation accuracy. Like tqdm, it draws only on a terminal."""

    def __init__(self, total_steps: int) -> None:
        super().__init__()
        self.total_steps = total_steps
        self.enabled = True
        self.bar: tqdm | None = None

    def disable(self) -> None:
        self.enabled = False

    def enable(self) -> None:
        self.enabled = True

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.enabled and trainer.is_global_zero:
            self.bar = tqdm(
                total=self.total_steps,
                initial=trainer.global_step,
                unit="step",
                dynamic_ncols=True,
                disable=None,
            )

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.bar is not None:
            self.bar.set_postfix(self._latest(trainer, pl_module), refresh=False)
            self.bar.update(trainer.global_step - self.bar.n)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def _latest(self, trainer: pl.Trainer, pl_module: Any) -> dict[str, str]:
        # the training metrics go to the loggers without Lightning (Classifier._log_train)
        metrics = dict(trainer.callback_metrics) | (getattr(pl_module, "latest_train", None) or {})
        split = getattr(pl_module, "eval_split", "test")
        names = (*SHOWN, f"{split}/acc")
        return {name.replace("/", " "): f"{float(metrics[name]):.3f}" for name in names if name in metrics}
