"""One place that reconciles the two input layouts the data pipeline may hand a model."""

from __future__ import annotations

from typing import Literal

from torch import Tensor

Layout = Literal["flat", "channels", "steps"]


def to_layout(x: Tensor, layout: Layout) -> Tensor:
    """Turn ``(batch, length)`` or ``(batch, 1, length)`` into what a net consumes.

    ``flat`` is ``(batch, length)`` for dense nets, ``channels`` is ``(batch, 1, length)`` for
    convolutions and ``steps`` is ``(batch, length, 1)`` for batch-first recurrent nets.
    """
    if x.dim() == 3 and x.shape[1] == 1:
        x = x.squeeze(1)
    elif x.dim() != 2:
        raise ValueError(f"expected (batch, length) or (batch, 1, length), got {tuple(x.shape)}")
    if layout == "flat":
        return x
    if layout == "channels":
        return x.unsqueeze(1)
    if layout == "steps":
        return x.unsqueeze(-1)
    raise ValueError(f"unknown layout {layout!r}")
