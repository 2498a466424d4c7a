"""Fully connected baseline of Greydanus's MNIST-1D paper."""

from __future__ import annotations

from torch import Tensor, nn

from mnist1d.models._shape import to_layout


class MLP(nn.Module):
    """Two hidden layers, the second residual, as in the reference notebook.

    ``h1 = relu(L1 x)``, ``h2 = h1 + relu(L2 h1)``, logits ``= L3 h2``.
    """

    def __init__(self, seq_length: int = 40, num_classes: int = 10, hidden_size: int = 100) -> None:
        super().__init__()
        self.linear1 = nn.Linear(seq_length, hidden_size)
        self.linear2 = nn.Linear(hidden_size, hidden_size)
        self.linear3 = nn.Linear(hidden_size, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        h1 = self.linear1(to_layout(x, "flat")).relu()
        h2 = h1 + self.linear2(h1).relu()
        return self.linear3(h2)
