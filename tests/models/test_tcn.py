"""The TCN: trained skip projections, causal padding, deterministic evaluation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.helpers import build_model


def test_tcn_skip_projections_are_registered_modules() -> None:
    model = build_model("tcn")
    projections = [m for m in model.modules() if isinstance(m, nn.Conv1d) and m.kernel_size == (1,)]
    assert len(projections) == 2  # 64 -> 128 and 128 -> 10; 64 -> 64 keeps the identity


@pytest.mark.parametrize("causal", [True, False])
def test_tcn_causal_features_ignore_later_inputs(causal: bool) -> None:
    model = build_model("tcn", seq_length=64, causal=causal).eval()
    x = torch.randn(2, 64)
    changed = x.clone()
    changed[:, 32:] += torch.randn(2, 32)  # stem output t sees inputs up to 2t (causal)
    with torch.no_grad():
        before, after = model.features(x), model.features(changed)
    early_equal = torch.allclose(before[..., :16], after[..., :16])
    assert early_equal is causal
    assert not torch.allclose(before[..., 16:], after[..., 16:])


def test_tcn_eval_is_deterministic() -> None:
    model = build_model("tcn").eval()
    x = torch.randn(4, 40)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)
