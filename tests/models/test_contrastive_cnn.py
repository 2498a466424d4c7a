"""ContrastiveCNN, the self-supervised encoder: the paper's CNN trunk, its projection heads, and the layers
the linear probes read."""

from __future__ import annotations

import pytest
import torch

from mnist1d.models.cnn import CNN
from mnist1d.models.contrastive_cnn import ContrastiveCNN


@pytest.mark.parametrize(
    ("projector", "widths", "parameters"),
    [  # the reference notebook's three models and their printed parameter counts
        ([125, 16], [40, 475, 250, 125, 125, 16], 21716),
        ([], [40, 475, 250, 125], 3950),
        ([125, 125, 125, 16], [40, 475, 250, 125, 125, 125, 125, 16], 53216),
    ],
)
def test_layers_are_the_input_every_activation_and_the_output(projector, widths, parameters):
    net = ContrastiveCNN(projector=projector)
    x = torch.randn(3, 40)
    layers = net.layers(x)
    assert [layer.shape for layer in layers] == [(3, w) for w in widths]
    assert sum(p.numel() for p in net.parameters()) == parameters
    torch.testing.assert_close(layers[0], x)
    torch.testing.assert_close(layers[-1], net(x))  # the output is the last layer read
    torch.testing.assert_close(layers[net.trunk_layer], net.trunk(x.unsqueeze(1)))  # the trunk's output
    assert all((layer >= 0).all() for layer in layers[1:-1])  # hidden layers are read after their ReLU


def test_trunk_is_the_papers_cnn_without_its_classifier():
    torch.manual_seed(0)
    cnn = CNN()
    torch.manual_seed(0)
    encoder = ContrastiveCNN(projector=[])
    x = torch.randn(4, 1, 40)
    assert net_keys(encoder.trunk) == net_keys(cnn.features)
    torch.testing.assert_close(encoder(x), cnn.features(x))


def net_keys(module: torch.nn.Module) -> list[str]:
    return list(module.state_dict())
