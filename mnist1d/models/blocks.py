"""Building blocks shared by several nets, so each variant is defined exactly once."""

from __future__ import annotations

from torch import nn


def padded_conv(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    *,
    stride: int = 1,
    dilation: int = 1,
    causal: bool = False,
) -> nn.Module:
    """Conv1d padded by ``dilation * (kernel_size - 1)`` so stride 1 keeps the length.

    Symmetric padding splits it evenly (odd kernels only); causal padding puts it all on the
    left, so output position ``t`` only sees inputs up to ``t * stride``.
    """
    total = dilation * (kernel_size - 1)
    conv_args = {"kernel_size": kernel_size, "stride": stride, "dilation": dilation}
    if causal:
        return nn.Sequential(
            nn.ConstantPad1d((total, 0), 0.0), nn.Conv1d(in_channels, out_channels, **conv_args)
        )
    if total % 2:
        raise ValueError(f"symmetric padding needs an odd kernel_size, got {kernel_size}")
    return nn.Conv1d(in_channels, out_channels, padding=total // 2, **conv_args)


def stem(out_channels: int = 64, *, causal: bool = False) -> nn.Sequential:
    """Beebe et al. input stem: Conv1d(1, C, k7, s2, p3) + BatchNorm + ReLU, halving the length."""
    return nn.Sequential(
        padded_conv(1, out_channels, 7, stride=2, causal=causal),
        nn.BatchNorm1d(out_channels),
        nn.ReLU(),
    )
