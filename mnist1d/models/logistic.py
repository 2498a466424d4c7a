"""Linear baseline of Greydanus's MNIST-1D paper."""

from __future__ import annotations

from torch import Tensor, nn

from mnist1d.models._shape import to_layout


class LogisticRegression(nn.Module):
    """A single Linear(seq_length, num_classes)."""

    def __init__(self, seq_length: int = 40, num_classes: int = 10) -> None:
        super().__init__()
        self.linear = nn.Linear(seq_length, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(to_layout(x, "flat"))
