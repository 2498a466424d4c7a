"""Convolutional baseline of Greydanus's MNIST-1D paper."""

from __future__ import annotations

from torch import Tensor, nn

from mnist1d.models._shape import to_layout


class CNN(nn.Module):
    """Three strided convolutions with ReLU, flattened into a linear classifier.

    Conv1d(1, C, k5, s2, p1) -> Conv1d(C, C, k3, s2, p1) -> Conv1d(C, C, k3, s2, p1);
    the flatten size follows from ``seq_length``.
    """

    def __init__(self, seq_length: int = 40, num_classes: int = 10, channels: int = 25) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        length, in_channels = seq_length, 1
        for kernel_size in (5, 3, 3):
            layers += [nn.Conv1d(in_channels, channels, kernel_size, stride=2, padding=1), nn.ReLU()]
            length = (length + 2 - kernel_size) // 2 + 1
            in_channels = channels
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.linear = nn.Linear(channels * length, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.features(to_layout(x, "channels")))
