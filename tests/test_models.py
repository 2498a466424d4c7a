"""Every architecture, built from its real Hydra config, against the reference numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from mnist1d.models import TCN, DilatedCNN
from mnist1d.models._shape import to_layout

CONF_DIR = Path(__file__).resolve().parents[1] / "conf" / "model"
PARAMETER_COUNTS = {
    "logistic": 410,
    "mlp": 15_210,
    "cnn": 5_210,
    "gru": 5_134,
    "resnet": 26_250,
    "tcn": 114_016,
    "dcnn": 25_610,
    "pool_cnn": 3_310,
    "mlp_plain": 15_210,
}
NAMES = sorted(PARAMETER_COUNTS)


def build(name: str, seq_length: int = 40, **overrides: object) -> nn.Module:
    cfg = OmegaConf.load(CONF_DIR / f"{name}.yaml")
    torch.manual_seed(0)
    return instantiate(cfg, seq_length=seq_length, num_classes=10, **overrides)


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_every_config_is_covered() -> None:
    assert sorted(p.stem for p in CONF_DIR.glob("*.yaml")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_parameter_count_matches_reference(name: str) -> None:
    assert n_parameters(build(name)) == PARAMETER_COUNTS[name]


@pytest.mark.parametrize("seq_length", [16, 40, 41, 72])
@pytest.mark.parametrize("name", NAMES)
def test_both_layouts_give_same_logits(name: str, seq_length: int) -> None:
    model = build(name, seq_length).eval()
    x = torch.randn(3, seq_length)
    with torch.no_grad():
        flat, channels = model(x), model(x.unsqueeze(1))
    assert flat.shape == (3, 10)
    torch.testing.assert_close(flat, channels)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_reaches_every_parameter(name: str) -> None:
    model = build(name).train()
    model(torch.randn(8, 40)).sum().backward()
    for param_name, p in model.named_parameters():
        assert p.grad is not None, param_name
        assert p.grad.abs().sum() > 0, param_name


def test_tcn_skip_projections_are_registered_modules() -> None:
    model = build("tcn")
    projections = [m for m in model.modules() if isinstance(m, nn.Conv1d) and m.kernel_size == (1,)]
    assert len(projections) == 2  # 64 -> 128 and 128 -> 10; 64 -> 64 keeps the identity


@pytest.mark.parametrize("causal", [True, False])
def test_tcn_causal_features_ignore_later_inputs(causal: bool) -> None:
    model = build("tcn", seq_length=64, causal=causal).eval()
    x = torch.randn(2, 64)
    changed = x.clone()
    changed[:, 32:] += torch.randn(2, 32)  # stem output t sees inputs up to 2t (causal)
    with torch.no_grad():
        before, after = model.features(x), model.features(changed)
    early_equal = torch.allclose(before[..., :16], after[..., :16])
    assert early_equal is causal
    assert not torch.allclose(before[..., 16:], after[..., 16:])


def test_tcn_eval_is_deterministic() -> None:
    model = build("tcn").eval()
    x = torch.randn(4, 40)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)


def test_config_overrides_reach_the_constructor() -> None:
    tcn = build("tcn", channels=[16, 16], dilation_base=3, dropout=0.0)
    assert isinstance(tcn, TCN)
    assert [level.net[0].dilation for level in tcn.levels] == [(1,), (3,)]
    dcnn = build("dcnn", dilations=[1, 2, 4])
    assert isinstance(dcnn, DilatedCNN)
    assert [m.dilation for m in dcnn.layers if isinstance(m, nn.Conv1d)] == [(1,), (2,), (4,)]
    assert n_parameters(dcnn) == PARAMETER_COUNTS["dcnn"]


@pytest.mark.parametrize("shape", [(4,), (2, 3, 40), (2, 1, 1, 40)])
def test_unsupported_input_shapes_are_rejected(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="expected"):
        to_layout(torch.zeros(shape), "flat")
