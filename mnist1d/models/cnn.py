"""Convolutional baseline of Greydanus's MNIST-1D paper."""

from __future__ import annotations

from torch import Tensor, nn

from mnist1d.models._shape import to_layout


def conv_trunk(seq_length: int, channels: int) -> tuple[nn.Sequential, int]:
    """The paper's three strided convolutions with ReLU, flattened, and how many features they output.

    Conv1d(1, C, k5, s2, p1) -> Conv1d(C, C, k3, s2, p1) -> Conv1d(C, C, k3, s2, p1); the output length
    follows from ``seq_length``.
    """
    layers: list[nn.Module] = []
    length, in_channels = seq_length, 1
    for kernel_size in (5, 3, 3):
        layers += [nn.Conv1d(in_channels, channels, kernel_size, stride=2, padding=1), nn.ReLU()]
        length = (length + 2 - kernel_size) // 2 + 1
        in_channels = channels
    return nn.Sequential(*layers, nn.Flatten()), channels * length


class CNN(nn.Module):
    """The convolutional trunk (`conv_trunk`) flattened into a linear classifier."""

    def __init__(self, seq_length: int = 40, num_classes: int = 10, channels: int = 25) -> None:
        super().__init__()
        self.features, n_features = conv_trunk(seq_length, channels)
        self.linear = nn.Linear(n_features, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.features(to_layout(x, "channels")))
