"""The LightningDataModule: generator -> cached arrays -> whole-split tensors on the training device."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch

from mnist1d.config.splits import eval_split
from mnist1d.data import load_dataset
from mnist1d.dataset_config import NUM_CLASSES, DatasetConfig
from mnist1d.rules import Rule, is_int, refuse
from mnist1d.training.engine import StepPlan
from mnist1d.training.engine.batches import ORDER_RULE, TensorBatches, TrainingChunks

LABEL_NOISE_MODES = ("other", "resample")
# How the generated data may be served (mnist1d/rules.py); the generator's own arguments are DatasetConfig's.
SERVING_RULES = (
    Rule("val_fraction", "in [0, 1)", lambda v: 0 <= v < 1),
    Rule("label_noise", "in [0, 1]", lambda v: 0 <= v <= 1),
    Rule("label_noise_mode", f"one of {LABEL_NOISE_MODES}", lambda v: v in LABEL_NOISE_MODES),
    Rule("eval_train_split", "true or false", lambda v: isinstance(v, bool)),
    ORDER_RULE,
)


def batch_size_rule(training_samples: int) -> Rule:
    """The batch size's rule, which depends on how many samples are left to train on."""
    allowed = f"in [1, {training_samples}] (the training samples)"
    return Rule("batch_size", allowed, lambda v: 1 <= v <= training_samples)


def positions_rule(length: int) -> Rule:
    """The input order's rule, which depends on the sequence length."""
    allowed = f"null or a permutation of 0 .. {length - 1}"
    permutation = list(range(length))
    return Rule(
        "positions", allowed, lambda v: v is None or (sorted(v) == permutation and all(map(is_int, v)))
    )


class MNIST1DDataModule(pl.LightningDataModule):
    """MNIST-1D for the Trainer.

    Splits: `train` is the generator's training split (4000 samples by default), less a held-out
    `val_fraction` of it when that is > 0. The evaluation split (`eval_split`) is then `val`; otherwise it is
    the generator's test split (1000 samples), as both papers evaluate. `test_dataloader` always serves the
    test split. `label_noise` replaces that fraction of training labels with random other classes (the
    double-descent experiment); evaluation labels are never noised. How the training minibatches are
    grouped into items (chunks of optimizer steps, accumulated minibatches) and which part of the
    evaluation splits is scored follow `plan`, which the training code sets (default: one step per item).

    `eval_train_split` adds the training split itself (unshuffled, with the labels it is trained on, noisy
    ones included) as a second evaluation dataloader, so that every evaluation also scores the whole
    training split (`train_split/acc`, `train_split/loss`; Greydanus & Kobak's train-accuracy curves, the
    train error of double descent). Off by default: it costs one forward pass over the training split per
    evaluation. `label_noise_mode` says how `label_noise` corrupts labels: `other` gives exactly that
    fraction a uniformly drawn different class; `resample`, the double-descent reference's scheme, redraws
    each label with probability `label_noise` uniformly from all classes (so about 9/10 of those change).
    `order` says how the training minibatches walk the training split: `shuffled` (a new permutation every
    pass, our default) or `cyclic` (both papers' training loops: consecutive slices in storage order, never
    reshuffled; see `TrainingChunks`).
    `positions` reorders the input positions of every split (`x[:, positions]`, a permutation of 0 ..
    length - 1): the lottery tickets' spatial probes train on reversed, half-swapped and shuffled inputs.
    """

    def __init__(
        self,
        batch_size: int = 100,
        val_fraction: float = 0.0,
        label_noise: float = 0.0,
        label_noise_mode: str = "other",
        eval_train_split: bool = False,
        order: str = "shuffled",
        shuffle_seed: int = 0,
        positions: list[int] | None = None,
        cache_dir: str | Path | None = None,
        **generator_args: Any,
    ) -> None:
        """`generator_args` are `DatasetConfig`'s fields (num_samples, seed, ...); the rest say how to serve
        them."""
        super().__init__()
        self.save_hyperparameters()  # into every checkpoint: what the model was trained on
        self.config = DatasetConfig(**generator_args)
        serving = {"batch_size": batch_size, "val_fraction": val_fraction, "label_noise": label_noise}
        serving |= {"label_noise_mode": label_noise_mode, "eval_train_split": eval_train_split}
        serving |= {"positions": positions, "order": order}
        refuse(SERVING_RULES, serving, prefix="data.")
        n_train, _ = self.config.split_sizes()
        n_fit = n_train - round(n_train * val_fraction)
        refuse(
            [batch_size_rule(n_fit), positions_rule(self.config.final_seq_length)], serving, prefix="data."
        )
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.label_noise = label_noise
        self.label_noise_mode = label_noise_mode
        self.eval_train_split = eval_train_split
        self.order = order
        self.shuffle_seed = shuffle_seed
        self.positions = positions
        self.cache_dir = cache_dir
        self.batches_per_epoch = -(-n_fit // batch_size)
        self.plan = StepPlan.one_step_per_call(self.batches_per_epoch)
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def seq_length(self) -> int:
        return self.config.final_seq_length

    @property
    def num_classes(self) -> int:
        return NUM_CLASSES

    @property
    def eval_split(self) -> str:
        return eval_split(self.val_fraction)

    def prepare_data(self) -> None:
        load_dataset(self.config, self.cache_dir)

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        data = load_dataset(self.config, self.cache_dir)
        columns = slice(None) if self.positions is None else self.positions
        x, y, x_test = data["x"][:, columns], data["y"], data["x_test"][:, columns]
        rng = np.random.default_rng(self.config.seed)
        n_val = round(len(y) * self.val_fraction)
        order = rng.permutation(len(y)) if n_val else np.arange(len(y))
        fit, val = order[n_val:], order[:n_val]
        y_fit = self._noisy(y[fit], rng)
        self.splits = {
            "train": self._tensors(x[fit], y_fit),
            "test": self._tensors(x_test, data["y_test"]),
        }
        if n_val:
            self.splits["val"] = self._tensors(x[val], y[val])

    def _noisy(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Corrupt training labels: `other` gives exactly a `label_noise` fraction a uniformly drawn
        *different* class; `resample` redraws each label with probability `label_noise` from all classes."""
        if not self.label_noise:
            return y
        y = y.copy()
        if self.label_noise_mode == "resample":
            redraw = np.flatnonzero(rng.random(len(y)) < self.label_noise)
            y[redraw] = rng.integers(0, NUM_CLASSES, size=len(redraw))
            return y
        flip = rng.permutation(len(y))[: round(len(y) * self.label_noise)]
        y[flip] = (y[flip] + rng.integers(1, NUM_CLASSES, size=len(flip))) % NUM_CLASSES
        return y

    @staticmethod
    def _tensors(x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)

    def _on_device(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The split moved (once) to the device the Trainer chose."""
        if self.trainer is not None:
            device = self.trainer.strategy.root_device
            self.splits[split] = tuple(t.to(device) for t in self.splits[split])
        return self.splits[split]

    def _global_step(self) -> int:
        return self.trainer.global_step if self.trainer is not None else 0

    def _minibatches_done(self) -> int:
        return self._global_step() * self.plan.accumulate

    def train_dataloader(self) -> TrainingChunks:
        """The minibatches in `order`, a chunk of the plan's optimizer steps per item (one training_step
        call)."""
        x, y = self._on_device("train")
        per_item = self.plan.chunk * self.plan.accumulate
        return TrainingChunks(
            x,
            y,
            self.batch_size,
            per_item,
            self.plan.accumulate,
            self.shuffle_seed,
            self._minibatches_done,
            self.order,
        )

    def _whole_batch(self, split: str, part: float) -> TensorBatches:
        """The first `part` of a split as a single batch: one forward pass per evaluation."""
        x, y = self._on_device(split)
        n = math.ceil(part * len(y))
        return TensorBatches(x[:n], y[:n], batch_size=max(n, 1))

    def val_dataloader(self) -> TensorBatches | list[TensorBatches]:
        """The evaluation split; with `eval_train_split`, then the whole training split (dataloader 1)."""
        loader = self._whole_batch(self.eval_split, self.plan.val_part)
        if not self.eval_train_split:
            return loader
        return [loader, self._whole_batch("train", self.plan.val_part)]

    def test_dataloader(self) -> TensorBatches:
        return self._whole_batch("test", self.plan.test_part)

    def predict_dataloader(self) -> TensorBatches:
        return self._whole_batch("test", 1.0)
