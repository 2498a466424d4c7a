"""PlainMLP, the double-descent net: sizes, default and He initialisation, bad depth."""

from __future__ import annotations

import pytest
import torch

from mnist1d.models.mlp_plain import PlainMLP
from tests.helpers import n_parameters


@pytest.mark.parametrize(("width", "depth"), [(2, 2), (100, 2), (300, 2), (16, 3)])
def test_plain_mlp_parameter_count_and_initialisations(width: int, depth: int) -> None:
    torch.manual_seed(0)
    default = PlainMLP(hidden_size=width, depth=depth)
    expected = 40 * width + width + (depth - 1) * (width * width + width) + 10 * width + 10
    assert n_parameters(default) == expected
    assert default(torch.randn(5, 1, 40)).shape == (5, 10)
    torch.manual_seed(0)
    plain = torch.nn.Linear(40, width)  # PyTorch's default, as the reference: same draws, nonzero biases
    first = next(m for m in default.modules() if isinstance(m, torch.nn.Linear))
    torch.testing.assert_close(first.weight, plain.weight)
    torch.testing.assert_close(first.bias, plain.bias)
    he = PlainMLP(hidden_size=width, depth=depth, he_init=True)
    linears = [m for m in he.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == depth + 1 and all((m.bias == 0).all() for m in linears)
    weight = linears[0].weight  # Kaiming uniform: bound sqrt(6 / fan_in)
    assert weight.abs().max() <= (6 / 40) ** 0.5 and weight.abs().max() > 0.5 * (6 / 40) ** 0.5


def test_plain_mlp_rejects_bad_depth() -> None:
    with pytest.raises(ValueError, match=r"model.depth=0 is invalid: must be an integer >= 1"):
        PlainMLP(depth=0)
