"""Typed generator arguments, with the reference package's names and defaults."""

from __future__ import annotations

import dataclasses
import numbers
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

REFERENCE_URL = "https://github.com/greydanus/mnist1d/raw/master/mnist1d_data.pkl"
NUM_CLASSES = 10  # the digit templates
# Peak memory of generating one sample (make_dataset, 200,000 samples, measured here): about 830 bytes at the
# default length of 40 and 2,700 at 160, so this much plus this much per point of final_seq_length.
SAMPLE_BYTES, POINT_BYTES = 500, 15


def physical_memory() -> int | None:
    """This machine's memory in bytes (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def is_int(value: Any) -> bool:
    """Integers (Python or numpy) but not bools: a float count or seed would fail deep inside numpy."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


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
        if not all(is_int(p) for p in padding):
            raise ValueError(
                f"dataset argument padding={self.padding!r} is invalid: must be a pair of integers"
            )
        object.__setattr__(self, "padding", tuple(int(p) for p in padding))
        self.validate()

    @classmethod
    def from_args(cls, args: Any) -> DatasetConfig:
        """Build from any object (or mapping) carrying the reference's attribute names."""
        get = args.get if isinstance(args, dict) else lambda name, default: getattr(args, name, default)
        return cls(**{f.name: get(f.name, f.default) for f in dataclasses.fields(cls)})

    def split_sizes(self, n_classes: int = NUM_CLASSES) -> tuple[int, int]:
        """(train, test) sample counts: `num_samples` rounded down to a multiple of the class count (the
        same number per class), of which the first `train_split` are the training split."""
        n = n_classes * (self.num_samples // n_classes)
        n_train = int(n * self.train_split)
        return n_train, n - n_train

    def generator_args(self) -> dict[str, Any]:
        """The arguments that determine the generated arrays (the cache key); `url` is excluded."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.compare}

    def validate(self) -> None:
        """Raise ValueError naming the field and its allowed range before any work is done."""
        for f in dataclasses.fields(self):
            if f.type == "int" and not is_int(getattr(self, f.name)):
                raise ValueError(
                    f"dataset argument {f.name}={getattr(self, f.name)!r} is invalid: must be an integer"
                )
        low, high = self.padding if len(self.padding) == 2 else (None, None)
        checks = [
            ("num_samples", self.num_samples >= 10, "an integer >= 10"),
            ("train_split", 0 < self.train_split < 1, "a number in the open interval (0, 1)"),
            ("template_len", self.template_len >= 2, "an integer >= 2"),
            ("padding", len(self.padding) == 2, "a pair [low, high]"),
            ("padding", low is not None and 0 <= low <= high, "a pair [low, high] with 0 <= low <= high"),
            ("scale_coeff", 0 <= self.scale_coeff < 2, "a number in [0, 2)"),
            ("max_translation", self.max_translation >= 1, "an integer >= 1"),
            ("corr_noise_scale", self.corr_noise_scale >= 0, "a number >= 0"),
            ("iid_noise_scale", self.iid_noise_scale >= 0, "a number >= 0"),
            ("shear_scale", self.shear_scale >= 0, "a number >= 0"),
            ("final_seq_length", self.final_seq_length >= 2, "an integer >= 2"),
            ("seed", 0 <= self.seed < 2**32, "an integer in [0, 2**32)"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ValueError(
                    f"dataset argument {name}={getattr(self, name)!r} is invalid: must be {allowed}"
                )
        needed, memory = (
            self.num_samples * (SAMPLE_BYTES + POINT_BYTES * self.final_seq_length),
            physical_memory(),
        )
        if memory is not None and needed > memory:
            arguments = f"num_samples={self.num_samples}, final_seq_length={self.final_seq_length}"
            raise ValueError(
                f"dataset arguments {arguments} are invalid: generating them needs about "
                f"{needed / 2**30:.0f} GiB, more than this machine's {memory / 2**30:.0f} GiB"
            )
        if 0 in self.split_sizes():
            raise ValueError(
                f"dataset arguments num_samples={self.num_samples}, train_split={self.train_split} leave "
                "an empty train or test split: both must hold at least one sample"
            )
