"""Dilated convolutional network of Beebe et al."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from mnist1d.models._shape import to_layout
from mnist1d.models.blocks import padded_conv


class DilatedCNN(nn.Module):
    """One length-preserving Conv1d(k3)+ReLU per entry of ``dilations``, global average pooling, linear.

    The study's schedule is ``(2, 2, 2)``; ``(1, 2, 4)`` grows the receptive field instead.
    ``seq_length`` is accepted only for a uniform constructor.
    """

    def __init__(
        self,
        seq_length: int = 40,
        num_classes: int = 10,
        channels: int = 64,
        dilations: Sequence[int] = (2, 2, 2),
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for index, dilation in enumerate(dilations):
            layers += [
                padded_conv(1 if index == 0 else channels, channels, 3, dilation=int(dilation)),
                nn.ReLU(),
            ]
        self.layers = nn.Sequential(*layers)
        self.linear = nn.Linear(channels, num_classes)

    def features(self, x: Tensor) -> Tensor:
        """Per-position features ``(batch, channels, length)`` before pooling."""
        return self.layers(to_layout(x, "channels"))

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.features(x).mean(dim=-1))
