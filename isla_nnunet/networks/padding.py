"""Convolutions with exact "same" padding for even kernels.

ISLA uses 4x4x2 kernels. A symmetric ``padding=`` argument cannot keep the output size for an even
kernel, so the input is padded asymmetrically: ``(k - s) // 2`` voxels before and the rest after,
which for stride 1 is ``(k - 1) // 2`` before and ``k // 2`` after (the Keras/TensorFlow "same" rule
the original ISLA implementation relies on).

Example:
    >>> same_padding((2, 4, 4), (1, 1, 1))
    ((0, 1), (1, 2), (1, 2))
    >>> same_padding((2, 4, 4), (1, 2, 2))
    ((0, 1), (1, 1), (1, 1))
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F


def same_padding(kernel_size: Sequence[int], stride: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Per-axis (before, after) zero padding so that ``out = ceil(in / stride)`` for inputs divisible by stride.

    Raises:
        ValueError: when kernel and stride lengths differ or a value is not positive.
    """
    if len(kernel_size) != len(stride):
        raise ValueError(f"kernel_size {tuple(kernel_size)} and stride {tuple(stride)} differ in length")
    if min(kernel_size) < 1 or min(stride) < 1:
        raise ValueError(f"kernel_size {tuple(kernel_size)} and stride {tuple(stride)} must be positive")
    pads = []
    for k, s in zip(kernel_size, stride, strict=True):
        total = max(k - s, 0)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


class SamePadConv(nn.Module):
    """``conv_op`` preceded by the asymmetric zero padding of :func:`same_padding`.

    Args:
        conv_op: ``nn.Conv2d`` or ``nn.Conv3d`` (any class with the torch conv signature).
        in_channels, out_channels: channel counts.
        kernel_size, stride: per spatial axis, in array order (z, y, x for 3D).
        bias: whether the convolution has a bias.

    Shapes: (B, in_channels, *S) -> (B, out_channels, *ceil(S / stride)).
    """

    def __init__(self, conv_op: type[nn.Module], in_channels: int, out_channels: int,
                 kernel_size: Sequence[int], stride: Sequence[int] | None = None, bias: bool = True):
        super().__init__()
        stride = tuple(stride) if stride is not None else (1,) * len(kernel_size)
        pads = same_padding(kernel_size, stride)
        # F.pad wants the last axis first.
        self.pad = tuple(p for before_after in reversed(pads) for p in before_after)
        self.conv = conv_op(in_channels, out_channels, tuple(kernel_size), stride=stride, padding=0, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self.pad):
            x = F.pad(x, self.pad)
        return self.conv(x)
