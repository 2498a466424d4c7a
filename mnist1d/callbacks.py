"""The callback that records what results.json reports."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytorch_lightning as pl

log = logging.getLogger(__name__)


class RunSummary(pl.Callback):
    """Records (and prints) every evaluation with its step, and the training throughput of this process.

    The evaluation history is saved in checkpoints, so a resumed run reports its whole history.
    """

    def __init__(self) -> None:
        self.history: list[dict[str, float]] = []
        self.fit_seconds = 0.0
        self.steps_this_process = 0
        self._fit_start: tuple[float, int] = (0.0, 0)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._fit_start = (time.perf_counter(), trainer.global_step)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        started, first_step = self._fit_start
        self.fit_seconds = time.perf_counter() - started
        self.steps_this_process = trainer.global_step - first_step

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        prefix = f"{pl_module.eval_split}/"
        metrics = {name: float(v) for name, v in trainer.callback_metrics.items() if name.startswith(prefix)}
        self.history.append({"step": trainer.global_step} | metrics)
        summary = "  ".join(f"{name} {value:.4f}" for name, value in metrics.items())
        log.info("step %d/%d  %s", trainer.global_step, trainer.max_steps, summary)

    def evaluated_last_step(self, trainer: pl.Trainer) -> bool:
        return bool(self.history) and self.history[-1]["step"] == trainer.global_step

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict["history"])
