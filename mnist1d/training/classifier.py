"""The project's one LightningModule: any net, cross-entropy, torchmetrics accuracy."""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterable
from typing import IO, Any

import torch
import torch.nn.functional as F
from hydra.utils import instantiate

from mnist1d.training.engine.batches import Batch
from mnist1d.training.engine.chunked_step import ChunkedSteps
from mnist1d.training.eval_norm import check_eval_norm, norm_statistics
from mnist1d.training.metrics import RunMetrics
from mnist1d.trusted import UntrustedFileError, check_hyperparameters


class Classifier(RunMetrics, ChunkedSteps):
    """Wraps a plain `nn.Module` (composition: one module for every architecture).

    The net, optimizer and scheduler arrive as their configs (`_target_` dicts, as in conf/train/model/ etc.),
    which are saved as hyperparameters: `Classifier.load_from_checkpoint(path)` rebuilds the trained model
    from any checkpoint with nothing else to pass, once the file is found to name only allowed code
    (`mnist1d.trusted`).

    Training: cross-entropy (`training_loss`), stepped by the engine's `training_step` (ChunkedSteps), which
    takes a chunk of optimizer steps per call and logs `train/loss` and `train/acc` every `log_every` of them.
    Every evaluation logs `{eval_split}/loss`, `{eval_split}/acc` and `{eval_split}/acc_best` (with the
    DataModule's `eval_train_split`, a second dataloader scores the whole training split: `train_split/loss`,
    `train_split/acc`); the test after training logs `final/test_acc`, `final/test_loss` and
    `final/test_acc_class_<digit>` and keeps the per-class accuracy and confusion matrix in `final_report`.
    `predict_step` returns class probabilities. Every evaluation, the final test and predictions score with
    the BatchNorm statistics `eval_norm` names (`mnist1d/training/eval_norm.py`).
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
        eval_norm: str = "running",
    ) -> None:
        super().__init__()
        check_eval_norm(eval_norm)
        self.save_hyperparameters()
        self.net = instantiate(net, seq_length=seq_length, num_classes=num_classes)
        self.init_metrics(num_classes, eval_split)

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

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """The net's logits for scoring (evaluation, test, prediction), with `eval_norm`'s statistics."""
        with norm_statistics(self.net, self.hparams.eval_norm):
            return self.net(x)

    def training_loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.net(x)
        return F.cross_entropy(logits, y), logits

    def validation_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Dataloader 0 is the evaluation split; dataloader 1, when the DataModule serves it, the whole
        training split. Metric names carry no dataloader suffix."""
        x, y = batch
        name, loss = self.score_evaluation(self.score(x), y, dataloader_idx)
        self.log(name, loss, batch_size=len(y), add_dataloader_idx=False)

    def on_validation_epoch_end(self) -> None:
        self.log_at_step(self.evaluation_metrics())

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        x, y = batch
        self.log("final/test_loss", self.score_test(self.score(x), y), batch_size=len(y))

    def on_test_epoch_end(self) -> None:
        self.log_at_step(self.test_metrics())

    def predict_step(self, batch: Batch | torch.Tensor, batch_idx: int) -> torch.Tensor:
        """Class probabilities, (batch, num_classes), for inputs `x` or `(x, y)` batches."""
        x = batch[0] if isinstance(batch, tuple | list) else batch
        return self.score(x).softmax(-1)

    def configure_optimizers(self) -> Any:
        return optimizer_and_schedule(self.hparams.optimizer, self.hparams.scheduler, self.parameters())


def optimizer_and_schedule(
    optimizer: dict[str, Any], scheduler: dict[str, Any] | None, parameters: Iterable[torch.nn.Parameter]
) -> Any:
    """`configure_optimizers`' answer for these optimizer and scheduler configs (the scheduler is stepped
    every optimizer step)."""
    built = instantiate(optimizer)(parameters)
    if not scheduler:
        return built
    return {
        "optimizer": built,
        "lr_scheduler": {"scheduler": instantiate(scheduler)(built), "interval": "step"},
    }


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
