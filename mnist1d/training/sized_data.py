"""A DataModule sized by its training set, with a test set of fixed size (the pooling benchmark)."""

from __future__ import annotations

from typing import Any

from mnist1d.rules import Rule, is_int, refuse
from mnist1d.training.datamodule import MNIST1DDataModule

DERIVED = "null (it is derived from data.train_size and data.test_size)"
RULES = (
    Rule("num_samples", DERIVED, lambda v: v is None),
    Rule("train_split", DERIVED, lambda v: v is None),
    Rule("train_size", "a positive multiple of 10", lambda v: is_int(v) and v >= 10 and v % 10 == 0),
    Rule("test_size", "a positive multiple of 10", lambda v: is_int(v) and v >= 10 and v % 10 == 0),
)


def fixed_test_datamodule(
    train_size: int,
    test_size: int = 1000,
    num_samples: int | None = None,
    train_split: float | None = None,
    **datamodule_args: Any,
) -> MNIST1DDataModule:
    """MNIST-1D with exactly `train_size` training and `test_size` test samples.

    The generator is asked for `train_size + test_size` samples, split after the first `train_size`, as
    the reference pooling notebook does, so every training size is scored on 1000 fresh samples of the same
    distribution. `num_samples` and `train_split` are derived here; setting them as well is an error.
    """
    sizes = {"train_size": train_size, "test_size": test_size}
    refuse(RULES, sizes | {"num_samples": num_samples, "train_split": train_split}, prefix="data.")
    total = train_size + test_size
    # Half a sample of headroom: int(total * split) is then train_size despite float rounding.
    return MNIST1DDataModule(num_samples=total, train_split=(train_size + 0.5) / total, **datamodule_args)
