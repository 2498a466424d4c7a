"""A DataModule sized by its training set, with a test set of fixed size (the pooling benchmark)."""

from __future__ import annotations

from typing import Any

from mnist1d.training.datamodule import MNIST1DDataModule


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
    for name, value in (("num_samples", num_samples), ("train_split", train_split)):
        if value is not None:
            raise ValueError(
                f"data.{name}={value!r} is invalid here: it is derived from data.train_size and "
                "data.test_size, so it must be null"
            )
    for name, value in (("train_size", train_size), ("test_size", test_size)):
        if not isinstance(value, int) or value < 10 or value % 10:
            raise ValueError(f"data.{name}={value!r} is invalid: must be a positive multiple of 10")
    total = train_size + test_size
    # Half a sample of headroom: int(total * split) is then train_size despite float rounding.
    return MNIST1DDataModule(num_samples=total, train_split=(train_size + 0.5) / total, **datamodule_args)
