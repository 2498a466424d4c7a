"""The pooling benchmark's DataModule: exact train sizes, a fixed test size, conflicting sizes refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnist1d.training.sized_data import fixed_test_datamodule


@pytest.mark.parametrize("train_size", [1000, 2000, 7000])
def test_fixed_test_datamodule_has_exact_split_sizes(train_size: int, cache_dir: Path) -> None:
    datamodule = fixed_test_datamodule(train_size=train_size, test_size=1000, cache_dir=cache_dir)
    datamodule.setup()
    assert len(datamodule.splits["train"][1]) == train_size
    assert len(datamodule.splits["test"][1]) == 1000


def test_fixed_test_datamodule_refuses_conflicting_sizes() -> None:
    with pytest.raises(ValueError, match=r"data.num_samples=5000 is invalid: must be null \(it is derived"):
        fixed_test_datamodule(train_size=1000, num_samples=5000)
    with pytest.raises(
        ValueError, match=r"data.train_size=1005 is invalid: must be a positive multiple of 10"
    ):
        fixed_test_datamodule(train_size=1005)
