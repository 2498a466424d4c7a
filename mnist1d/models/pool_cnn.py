"""The small CNN of the reference pooling benchmark, with the downsampling method as a setting."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from mnist1d.models._shape import to_layout
from mnist1d.rules import Rule, refuse

POOLINGS = ("none", "stride", "max", "avg", "l2")
RULES = (Rule("pooling", f"one of {', '.join(POOLINGS)}", lambda v: v in POOLINGS),)


class PoolCNN(nn.Module):
    """Two Conv1d(k3, p1) + ReLU layers, each followed by the chosen downsampling, then a linear classifier.

    ``pooling``: ``none`` keeps full resolution; ``stride`` gives both convolutions stride 2; ``max``,
    ``avg`` and ``l2`` pool by 2 after each ReLU. ``l2`` is ``lp_pool1d`` with norm 2, the square root of
    the *sum* of squares, as the reference notebook computes it (sqrt(2) times the root mean square: the
    scale changes what the next layer's default initialisation sees, so it is kept). At length 40: ``none``
    leaves the linear layer four times wider.
    """

    def __init__(
        self, seq_length: int = 40, num_classes: int = 10, channels: int = 20, pooling: str = "max"
    ) -> None:
        super().__init__()
        refuse(RULES, {"pooling": pooling}, prefix="model.")
        self.pooling = pooling
        stride = 2 if pooling == "stride" else 1
        self.conv1 = nn.Conv1d(1, channels, 3, stride=stride, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=stride, padding=1)
        length = seq_length
        for _ in range(2):
            length = (length - 1) // stride + 1  # conv k3 p1
            length = length if pooling in ("none", "stride") else length // 2
        self.linear = nn.Linear(channels * length, num_classes)

    def _downsample(self, h: Tensor) -> Tensor:
        if self.pooling == "max":
            return F.max_pool1d(h, 2)
        if self.pooling == "avg":
            return F.avg_pool1d(h, 2)
        if self.pooling == "l2":
            return F.lp_pool1d(h, norm_type=2, kernel_size=2)
        return h

    def forward(self, x: Tensor) -> Tensor:
        h = self._downsample(self.conv1(to_layout(x, "channels")).relu())
        h = self._downsample(self.conv2(h).relu())
        return self.linear(h.flatten(1))
