"""Residual network of Beebe et al., as their paper describes it."""

from __future__ import annotations

from torch import Tensor, nn

from mnist1d.models._shape import to_layout
from mnist1d.models.blocks import padded_conv, stem


class BasicBlock(nn.Module):
    """Conv-BN-ReLU-Conv-BN with the identity skip added before the final ReLU."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = padded_conv(channels, channels, 3)
        self.bn1 = nn.BatchNorm1d(channels)
        self.conv2 = padded_conv(channels, channels, 3)
        self.bn2 = nn.BatchNorm1d(channels)

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn1(self.conv1(x)).relu()
        return (self.bn2(self.conv2(out)) + x).relu()


class ResNet(nn.Module):
    """Stem, ``num_blocks`` basic blocks, global average pooling, linear classifier.

    Convolutions keep their bias. Global pooling makes the net length-agnostic; ``seq_length`` is
    accepted only for a uniform constructor.
    """

    def __init__(
        self, seq_length: int = 40, num_classes: int = 10, channels: int = 64, num_blocks: int = 1
    ) -> None:
        super().__init__()
        self.stem = stem(channels)
        self.blocks = nn.Sequential(*(BasicBlock(channels) for _ in range(num_blocks)))
        self.linear = nn.Linear(channels, num_classes)

    def features(self, x: Tensor) -> Tensor:
        """Per-position features ``(batch, channels, ceil(length / 2))`` before pooling."""
        return self.blocks(self.stem(to_layout(x, "channels")))

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.features(x).mean(dim=-1))
