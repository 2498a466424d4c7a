"""Temporal convolutional network of Beebe et al., and the variants that show what its choices cost.

Their paper gives every temporal convolution kernel 3, stride 1 and padding 1 (no dilation), and so does
their code. Where a block changes the width, their code's skip path is a 1x1 convolution built inside
``forward``: fresh, untrained random weights on every call (so it counts 104,406 parameters for channels
[64, 128, 10]). ``projection="random_per_call"`` reproduces that (``model=tcn``); ``projection="trained"``
registers the projections and trains them like every other layer (114,016 parameters, ``model=tcn_trained``).
``dilation_base=2`` (dilations 1, 2, 4) is a dilated variant of ours (``model=tcn_dilated``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from mnist1d.models._shape import to_layout
from mnist1d.models.blocks import padded_conv, stem
from mnist1d.rules import Rule, refuse

PROJECTIONS = ("random_per_call", "trained")
RULES = (Rule("projection", f"one of {', '.join(PROJECTIONS)}", lambda v: v in PROJECTIONS),)


class RandomProjection(nn.Module):
    """A 1x1 convolution whose weights are drawn anew, untrained, on every call: Beebe et al.'s skip path.

    The draws are those of a freshly built ``nn.Conv1d(in_channels, out_channels, 1)`` (PyTorch's default
    initialisation, weights then bias, U(-1/sqrt(in_channels), 1/sqrt(in_channels)), from torch's global
    random state). Gradients flow through it to its input; it has no parameters.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels

    def forward(self, x: Tensor) -> Tensor:
        bound = self.in_channels**-0.5
        weight = torch.empty(self.out_channels, self.in_channels, 1, device=x.device).uniform_(-bound, bound)
        bias = torch.empty(self.out_channels, device=x.device).uniform_(-bound, bound)
        return F.conv1d(x, weight.to(x.dtype), bias.to(x.dtype))


def skip_path(in_channels: int, out_channels: int, projection: str) -> nn.Module:
    if in_channels == out_channels:
        return nn.Identity()
    if projection == "trained":
        return nn.Conv1d(in_channels, out_channels, 1)
    return RandomProjection(in_channels, out_channels)


class TemporalBlock(nn.Module):
    """Two Conv-BN-ReLU-Dropout layers plus a skip, projected by a 1x1 conv if widths differ."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int,
        dilation: int,
        dropout: float,
        causal: bool,
        projection: str,
    ) -> None:
        super().__init__()
        conv_args = {"kernel_size": kernel_size, "dilation": dilation, "causal": causal}
        self.net = nn.Sequential(
            padded_conv(in_channels, out_channels, **conv_args),
            nn.BatchNorm1d(out_channels),
            nn.ReLU(),
            nn.Dropout(dropout),
            padded_conv(out_channels, out_channels, **conv_args),
            nn.BatchNorm1d(out_channels),
            nn.ReLU(),
            nn.Dropout(dropout),
        )
        self.skip = skip_path(in_channels, out_channels, projection)

    def forward(self, x: Tensor) -> Tensor:
        return (self.net(x) + self.skip(x)).relu()


class TCN(nn.Module):
    """Stem, one temporal block per entry of ``channels`` with dilation ``dilation_base ** level``,
    global average pooling, linear classifier.

    The stem is ``channels[0]`` wide. ``projection``: the skip path where a block changes the width (see
    the module's docstring). ``causal=True`` pads every convolution (stem included) on the left only, so
    features at position ``t`` depend on inputs up to ``2 t`` alone. ``seq_length`` is accepted only for a
    uniform constructor.
    """

    def __init__(
        self,
        seq_length: int = 40,
        num_classes: int = 10,
        channels: Sequence[int] = (64, 128, 10),
        kernel_size: int = 3,
        dilation_base: int = 1,
        dropout: float = 0.01,
        causal: bool = False,
        projection: str = "random_per_call",
    ) -> None:
        super().__init__()
        refuse(RULES, {"projection": projection}, prefix="model.")
        widths = [int(c) for c in channels]
        self.stem = stem(widths[0], causal=causal)
        block_args = {"kernel_size": kernel_size, "dropout": dropout, "causal": causal}
        block_args["projection"] = projection
        self.levels = nn.Sequential(
            *(
                TemporalBlock(in_channels, out_channels, dilation=dilation_base**level, **block_args)
                for level, (in_channels, out_channels) in enumerate(
                    zip(widths[:1] + widths[:-1], widths, strict=True)
                )
            )
        )
        self.linear = nn.Linear(widths[-1], num_classes)

    def features(self, x: Tensor) -> Tensor:
        """Per-position features ``(batch, channels[-1], ceil(length / 2))`` before pooling."""
        return self.levels(self.stem(to_layout(x, "channels")))

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.features(x).mean(dim=-1))
