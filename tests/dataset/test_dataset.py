"""The plain torch Dataset, for users outside Lightning."""

from __future__ import annotations

import pytest
import torch

from mnist1d.dataset import MNIST1D


def test_plain_dataset_for_users_outside_lightning(cache_dir):
    train, test = MNIST1D("train", cache_dir=cache_dir), MNIST1D("test", cache_dir=cache_dir)
    assert (len(train), len(test)) == (4000, 1000)
    x, y = train[0]
    assert x.shape == (40,) and x.dtype == torch.float32 and 0 <= int(y) < 10
    loader = torch.utils.data.DataLoader(train, batch_size=100)
    xb, yb = next(iter(loader))
    assert xb.shape == (100, 40) and yb.shape == (100,)
    with pytest.raises(ValueError, match="split"):
        MNIST1D("validation", cache_dir=cache_dir)
