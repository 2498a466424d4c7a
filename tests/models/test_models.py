"""Every architecture, built from its real Hydra config: shapes, gradients, documented sizes."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from mnist1d.config.compose import config_options
from mnist1d.models._shape import to_layout
from mnist1d.models.dcnn import DilatedCNN
from mnist1d.models.tcn import TCN
from tests.helpers import ROOT, build_model, n_parameters

MODELS = config_options("model")


def documented_sizes() -> dict[str, int]:
    """Model -> parameter count, from the README's model table (`| `cnn` | 5,210 | ...`, after its header)."""
    table = (ROOT / "README.md").read_text().split("| model | parameters |", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| ([\d,]+) \|", table, flags=re.MULTILINE)
    return {name: int(count.replace(",", "")) for name, count in rows}


def test_readme_documents_only_real_models() -> None:
    assert documented_sizes() and set(documented_sizes()) <= set(MODELS)


@pytest.mark.parametrize(("name", "size"), documented_sizes().items())
def test_parameter_count_is_the_documented_one(name: str, size: int) -> None:
    assert n_parameters(build_model(name)) == size


@pytest.mark.parametrize("seq_length", [16, 40, 41, 72])
@pytest.mark.parametrize("name", MODELS)
def test_both_layouts_give_same_logits(name: str, seq_length: int) -> None:
    model = build_model(name, seq_length).eval()
    x = torch.randn(3, seq_length)
    with torch.no_grad():  # the same random state for both calls: model=tcn draws its projections per call
        torch.manual_seed(1)
        flat = model(x)
        torch.manual_seed(1)
        channels = model(x.unsqueeze(1))
    assert flat.shape == (3, 10)
    torch.testing.assert_close(flat, channels)


@pytest.mark.parametrize("name", MODELS)
def test_gradient_reaches_every_parameter(name: str) -> None:
    model = build_model(name).train()
    model(torch.randn(8, 40)).sum().backward()
    for param_name, p in model.named_parameters():
        assert p.grad is not None, param_name
        assert p.grad.abs().sum() > 0, param_name


def test_config_overrides_reach_the_constructor() -> None:
    tcn = build_model("tcn", channels=[16, 16], dilation_base=3, dropout=0.0)
    assert isinstance(tcn, TCN)
    assert [level.net[0].dilation for level in tcn.levels] == [(1,), (3,)]
    dcnn = build_model("dcnn", dilations=[1, 2, 4])
    assert isinstance(dcnn, DilatedCNN)
    assert [m.dilation for m in dcnn.layers if isinstance(m, nn.Conv1d)] == [(1,), (2,), (4,)]
    assert n_parameters(dcnn) == n_parameters(build_model("dcnn"))  # dilations do not change the size


@pytest.mark.parametrize("shape", [(4,), (2, 3, 40), (2, 1, 1, 40)])
def test_unsupported_input_shapes_are_rejected(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="expected"):
        to_layout(torch.zeros(shape), "flat")
