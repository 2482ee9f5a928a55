"""Attention coefficients: the one place every ISLA attention module turns logits into weights.

Each attention module computes its coefficients through an :class:`AttentionCoefficients` submodule,
so a forward hook on those submodules reads every coefficient map of a network without knowing the
modules (see :mod:`isla_nnunet.networks.attention.capture`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

COEFFICIENT_KINDS = ("channel", "spatial", "hybrid")
_LINEAR_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}


def resample_linear(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """(Bi/tri)linear resampling of (B, C, *S) to (B, C, *size) with ``align_corners=False``."""
    size = tuple(int(s) for s in size)
    if tuple(x.shape[2:]) == size:
        return x
    return F.interpolate(x, size=size, mode=_LINEAR_MODES[x.dim() - 2], align_corners=False)


class AttentionCoefficients(nn.Module):
    """``sigmoid(logits)``, optionally resampled linearly to ``size``; the output is the coefficient map.

    Linear interpolation is a convex combination, so resampled coefficients stay in [0, 1].

    Args:
        kind: ``"channel"`` (one weight per channel, shape (B, C, 1, ..., 1)), ``"spatial"`` (one per voxel,
            (B, 1, *S)) or ``"hybrid"`` (one per channel and voxel, (B, C, *S)).

    Shapes: logits (B, K, *S') -> (B, K, *size) (or (B, K, *S') when ``size`` is None).

    Raises:
        ValueError: unknown ``kind``.
    """

    def __init__(self, kind: str):
        super().__init__()
        if kind not in COEFFICIENT_KINDS:
            raise ValueError(f"kind must be one of {COEFFICIENT_KINDS}, got {kind!r}")
        self.kind = kind

    def forward(self, logits: torch.Tensor, size: Sequence[int] | None = None) -> torch.Tensor:
        alpha = torch.sigmoid(logits)
        return alpha if size is None else resample_linear(alpha, size)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"
