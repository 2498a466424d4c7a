"""PoolCNN, the pooling benchmark's net: sizes per pooling method, l2 pooling, bad input."""

from __future__ import annotations

import pytest
import torch

from mnist1d.models.pool_cnn import POOLINGS, PoolCNN
from tests.helpers import n_parameters


@pytest.mark.parametrize("pooling", POOLINGS)
def test_pool_cnn_shapes_and_parameter_counts(pooling: str) -> None:
    model = PoolCNN(pooling=pooling)
    conv = 20 * 3 + 20 + 20 * 20 * 3 + 20
    assert n_parameters(model) == conv + (20 * 40 if pooling == "none" else 20 * 10) * 10 + 10
    for length in (40, 41, 72):
        x = torch.randn(3, length)
        logits = PoolCNN(seq_length=length, pooling=pooling)(x)
        assert logits.shape == (3, 10)


def test_pool_cnn_l2_pooling_is_the_root_of_the_sum_of_squares() -> None:
    """As the reference's lp_pool1d(norm_type=2) computes it: sqrt(a^2 + b^2) per pair, not the RMS."""
    h = torch.rand(2, 3, 8)
    pooled = PoolCNN(pooling="l2")._downsample(h)
    torch.testing.assert_close(pooled, (h[..., 0::2] ** 2 + h[..., 1::2] ** 2).sqrt())


def test_pool_cnn_rejects_unknown_pooling() -> None:
    with pytest.raises(ValueError, match=r"model.pooling='median' is invalid: must be one of none, stride"):
        PoolCNN(pooling="median")
