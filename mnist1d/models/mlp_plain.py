"""The plain MLP of the double-descent experiment (Prince's "Understanding Deep Learning" notebook)."""

from __future__ import annotations

from torch import Tensor, nn

from mnist1d.models._shape import to_layout


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
        if hidden_size < 1:
            raise ValueError(f"model.hidden_size={hidden_size!r} is invalid: must be an integer >= 1")
        if depth < 1:
            raise ValueError(f"model.depth={depth!r} is invalid: must be an integer >= 1")
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
