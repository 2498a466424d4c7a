"""The self-supervised encoder: the paper's CNN trunk under a projection head."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from mnist1d.models._shape import to_layout
from mnist1d.models.cnn import conv_trunk


class ContrastiveCNN(nn.Module):
    """The CNN's convolutions (`conv_trunk`, no classifier), then a projection head: Linear layers of the
    widths `projector` with ReLU between them, the last width being the output's. An empty `projector`
    makes the trunk's flattened features the output. Not a classifier: it embeds, for a contrastive loss.

    `layers(x)` gives what linear probes read: the input and every layer's activations, flattened (each
    convolution and hidden projection after its ReLU, the output as it is).
    """

    def __init__(
        self, seq_length: int = 40, channels: int = 25, projector: Sequence[int] = (125, 16)
    ) -> None:
        super().__init__()
        self.trunk, width = conv_trunk(seq_length, channels)
        self.trunk_layer = sum(isinstance(m, nn.ReLU) for m in self.trunk)  # its output's index in `layers`
        layers: list[nn.Module] = []
        for i, out_features in enumerate(projector):
            layers += [nn.ReLU()] if i else []
            layers.append(nn.Linear(width, out_features))
            width = out_features
        self.projector = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, x: Tensor) -> Tensor:
        return self.projector(self.trunk(to_layout(x, "channels")))

    def layers(self, x: Tensor) -> list[Tensor]:
        """[input, conv1, conv2, conv3, projection 1, ..., output], each (batch, features)."""
        outputs = [to_layout(x, "flat")]
        h = to_layout(x, "channels")
        for module in self.trunk:
            h = module(h)
            if isinstance(module, nn.ReLU):
                outputs.append(h.flatten(1))
        for module in self.projector:
            h = module(h)
            if isinstance(module, nn.ReLU):
                outputs.append(h)
        if len(self.projector):
            outputs.append(h)
        return outputs
