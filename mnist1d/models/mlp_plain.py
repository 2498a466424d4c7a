"""The plain MLP of the double-descent experiment (Prince's "Understanding Deep Learning" notebook)."""

from __future__ import annotations

from torch import Tensor, nn

from mnist1d.models._shape import to_layout
from mnist1d.rules import Rule, is_int, refuse

RULES = (
    Rule("hidden_size", "an integer >= 1", lambda v: is_int(v) and v >= 1),
    Rule("depth", "an integer >= 1", lambda v: is_int(v) and v >= 1),
)


class PlainMLP(nn.Module):
    """``depth`` hidden Linear + ReLU layers of ``hidden_size`` units, then a linear classifier.

    No residual connection (unlike ``MLP``), so the width alone sets the capacity the double-descent
    sweep varies. PyTorch's default initialisation, as the double-descent reference; ``he_init`` draws
    weights Kaiming-uniform with zero biases instead.
    """

    def __init__(
        self,
        seq_length: int = 40,
        num_classes: int = 10,
        hidden_size: int = 100,
        depth: int = 2,
        he_init: bool = False,
    ) -> None:
        super().__init__()
        refuse(RULES, {"hidden_size": hidden_size, "depth": depth}, prefix="model.")
        layers: list[nn.Module] = []
        width = seq_length
        for _ in range(depth):
            layers += [nn.Linear(width, hidden_size), nn.ReLU()]
            width = hidden_size
        self.layers = nn.Sequential(*layers, nn.Linear(width, num_classes))
        if he_init:
            for layer in self.layers:
                if isinstance(layer, nn.Linear):
                    nn.init.kaiming_uniform_(layer.weight)
                    nn.init.zeros_(layer.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(to_layout(x, "flat"))
