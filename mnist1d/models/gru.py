"""Recurrent baseline of Greydanus's MNIST-1D paper."""

from __future__ import annotations

from torch import Tensor, nn

from mnist1d.models._shape import to_layout


class GRU(nn.Module):
    """Bidirectional single-layer GRU whose outputs at every step feed one linear classifier.

    GRU(1, 6, bidirectional) has 324 parameters and Linear(2 * 6 * 40, 10) 4,810: 5,134 in all.
    """

    def __init__(self, seq_length: int = 40, num_classes: int = 10, hidden_size: int = 6) -> None:
        super().__init__()
        self.gru = nn.GRU(input_size=1, hidden_size=hidden_size, batch_first=True, bidirectional=True)
        self.linear = nn.Linear(2 * hidden_size * seq_length, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        outputs, _ = self.gru(to_layout(x, "steps"))
        return self.linear(outputs.flatten(1))
