"""Temporal convolutional network of Beebe et al., without their implementation's bug.

Their code built the 1x1 skip projections inside ``forward`` (fresh, untrained weights on every
call, not counted in their 104,406 parameters); here they are registered once and trained like every
other layer (114,016 parameters for channels [64, 128, 10]). Their paper describes dilated
convolutions, their code uses dilation 1 everywhere: ``dilation_base=2`` (``model=tcn``) is the paper's
network, ``dilation_base=1`` (``model=tcn_undilated``) their code's. Both use the dropout their reported
run trained with (0.01).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from mnist1d.models._shape import to_layout
from mnist1d.models.blocks import padded_conv, stem


class TemporalBlock(nn.Module):
    """Two dilated Conv-BN-ReLU-Dropout layers plus a skip, projected by a 1x1 conv if widths differ."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int,
        dilation: int,
        dropout: float,
        causal: bool,
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
        self.skip = nn.Identity() if in_channels == out_channels else nn.Conv1d(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return (self.net(x) + self.skip(x)).relu()


class TCN(nn.Module):
    """Stem, one temporal block per entry of ``channels`` with dilation ``dilation_base ** level``,
    global average pooling, linear classifier.

    The stem is ``channels[0]`` wide. ``causal=True`` pads
    every convolution (stem included) on the left only, so features at position ``t`` depend on
    inputs up to ``2 t`` alone. ``seq_length`` is accepted only for a uniform constructor.
    """

    def __init__(
        self,
        seq_length: int = 40,
        num_classes: int = 10,
        channels: Sequence[int] = (64, 128, 10),
        kernel_size: int = 3,
        dilation_base: int = 2,
        dropout: float = 0.01,
        causal: bool = False,
    ) -> None:
        super().__init__()
        widths = [int(c) for c in channels]
        self.stem = stem(widths[0], causal=causal)
        block_args = {"kernel_size": kernel_size, "dropout": dropout, "causal": causal}
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
