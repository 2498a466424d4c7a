"""The TCN: Beebe et al.'s network (per-call random projections, no dilation), its trained and dilated
variants, causal padding."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mnist1d.models.tcn import TCN, RandomProjection
from tests.helpers import build_model, n_parameters


def test_beebe_tcn_counts_their_104406_parameters() -> None:
    """Their code's count: the per-call projections are no parameters (64 -> 128 and 128 -> 10)."""
    model = build_model("tcn")
    assert n_parameters(model) == 104_406
    assert sum(isinstance(m, RandomProjection) for m in model.modules()) == 2
    assert n_parameters(build_model("tcn_trained")) == n_parameters(build_model("tcn_dilated")) == 114_016


def test_beebe_tcn_convolutions_are_kernel3_stride1_padding1_undilated() -> None:
    """Their paper's implementation section and code; only the dilated variant of ours dilates."""
    for name, dilations in (("tcn", [1, 1, 1]), ("tcn_trained", [1, 1, 1]), ("tcn_dilated", [1, 2, 4])):
        convs = [level.net[0] for level in build_model(name).levels]
        assert [c.dilation[0] for c in convs] == dilations
        assert {(c.kernel_size, c.stride) for c in convs} == {((3,), (1,))}
        if name != "tcn_dilated":
            assert {c.padding for c in convs} == {(1,)}


def test_random_projection_draws_what_a_fresh_conv1d_would() -> None:
    """The same draws, in the same order, as `nn.Conv1d(64, 128, 1)` built inside forward (their code)."""
    x = torch.randn(3, 64, 20)
    torch.manual_seed(5)
    ours = RandomProjection(64, 128)(x)
    torch.manual_seed(5)
    theirs = nn.Conv1d(64, 128, kernel_size=1, stride=1, padding=0)(x)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)


def test_random_projections_change_from_call_to_call_and_pass_gradients() -> None:
    model = build_model("tcn").eval()
    x = torch.randn(4, 40, requires_grad=True)
    first, second = model(x), model(x)
    assert not torch.allclose(first, second)
    first.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["tcn_trained", "tcn_dilated"])
def test_trained_projections_are_registered_and_deterministic(name: str) -> None:
    model = build_model(name).eval()
    projections = [m for m in model.modules() if isinstance(m, nn.Conv1d) and m.kernel_size == (1,)]
    assert len(projections) == 2  # 64 -> 128 and 128 -> 10; 64 -> 64 keeps the identity
    x = torch.randn(4, 40)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)


def test_unknown_projection_is_refused() -> None:
    with pytest.raises(ValueError, match=r"model.projection='fixed' is invalid: must be one of random_per"):
        TCN(projection="fixed")


@pytest.mark.parametrize("causal", [True, False])
def test_tcn_causal_features_ignore_later_inputs(causal: bool) -> None:
    model = build_model("tcn_dilated", seq_length=64, causal=causal).eval()
    x = torch.randn(2, 64)
    changed = x.clone()
    changed[:, 32:] += torch.randn(2, 32)  # stem output t sees inputs up to 2t (causal)
    with torch.no_grad():
        before, after = model.features(x), model.features(changed)
    early_equal = torch.allclose(before[..., :16], after[..., :16])
    assert early_equal is causal
    assert not torch.allclose(before[..., 16:], after[..., 16:])
