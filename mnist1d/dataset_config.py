"""Typed generator arguments, with the reference package's names and defaults."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mnist1d.rules import Rule, Together, is_int, refuse

REFERENCE_URL = "https://github.com/greydanus/mnist1d/raw/master/mnist1d_data.pkl"
NUM_CLASSES = 10  # the digit templates


@dataclass(frozen=True)
class DatasetConfig:
    """Every argument of the MNIST-1D generator; attribute names match the reference `get_dataset_args()`."""

    num_samples: int = 5000
    train_split: float = 0.8
    template_len: int = 12
    padding: tuple[int, int] = (36, 60)
    scale_coeff: float = 0.4
    max_translation: int = 48
    corr_noise_scale: float = 0.25
    iid_noise_scale: float = 2e-2
    shear_scale: float = 0.75
    shuffle_seq: bool = False
    final_seq_length: int = 40
    seed: int = 42
    url: str = field(default=REFERENCE_URL, compare=False)

    def __post_init__(self) -> None:
        padding = tuple(self.padding) if isinstance(self.padding, Iterable) else (self.padding,)
        if all(is_int(p) for p in padding):
            padding = tuple(int(p) for p in padding)
        object.__setattr__(self, "padding", padding)
        refuse(DATASET_RULES, self, error=lambda problem: ValueError(f"dataset argument {problem}"))

    @classmethod
    def from_args(cls, args: Any) -> DatasetConfig:
        """Build from any object (or mapping) carrying the reference's attribute names."""
        get = args.get if isinstance(args, dict) else lambda name, default: getattr(args, name, default)
        return cls(**{f.name: get(f.name, f.default) for f in dataclasses.fields(cls)})

    def split_sizes(self, n_classes: int = NUM_CLASSES) -> tuple[int, int]:
        """(train, test) sample counts (see `split_sizes`)."""
        return split_sizes(self.num_samples, self.train_split, n_classes)

    def generator_args(self) -> dict[str, Any]:
        """The arguments that determine the generated arrays (the cache key); `url` is excluded."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.compare}


def split_sizes(num_samples: int, train_split: float, n_classes: int = NUM_CLASSES) -> tuple[int, int]:
    """(train, test) sample counts: `num_samples` rounded down to a multiple of the class count (the same
    number per class), of which the first `train_split` are the training split."""
    n = n_classes * (num_samples // n_classes)
    n_train = int(n * train_split)
    return n_train, n - n_train


# What every generator argument must be, checked when a DatasetConfig is made (see mnist1d/rules.py).
DATASET_RULES = (
    Rule("num_samples", "an integer >= 10", lambda v: is_int(v) and v >= 10),
    Rule("train_split", "a number in the open interval (0, 1)", lambda v: 0 < v < 1),
    Rule("template_len", "an integer >= 2", lambda v: is_int(v) and v >= 2),
    Rule("padding", "a pair of integers", lambda v: all(is_int(p) for p in v)),
    Rule("padding", "a pair [low, high] with 0 <= low <= high", lambda v: len(v) == 2 and 0 <= v[0] <= v[1]),
    Rule("scale_coeff", "a number in [0, 2)", lambda v: 0 <= v < 2),
    Rule("max_translation", "an integer >= 1", lambda v: is_int(v) and v >= 1),
    Rule("corr_noise_scale", "a number >= 0", lambda v: v >= 0),
    Rule("iid_noise_scale", "a number >= 0", lambda v: v >= 0),
    Rule("shear_scale", "a number >= 0", lambda v: v >= 0),
    Rule("final_seq_length", "an integer >= 2", lambda v: is_int(v) and v >= 2),
    Rule("seed", "an integer in [0, 2**32)", lambda v: is_int(v) and 0 <= v < 2**32),
    Together(
        ("num_samples", "train_split"),
        "leave an empty train or test split: both must hold at least one sample",
        lambda n, split: 0 not in split_sizes(n, split),
    ),
)
