"""The convolution blocks of ISLA's two U-Net flavours (Roca et al., §3.2.2-3.2.3).

* StdUNet: ``[Conv - Norm - Nonlin (- Dropout)] x 2``, max-pooling down.
* ResUNet: pre-activation residual blocks ``[Norm - Nonlin - Conv] x 2`` with a 1x1x1 convolution on
  the identity path; the first block is ``Conv - Norm - Nonlin - Conv``; down-sampling by the first,
  strided convolution of a block; dropout before the last convolution.

Every convolution uses exact "same" padding (:mod:`isla_nnunet.networks.padding`), so even kernels
such as 4x4x2 keep the grid.

A U-Net flavour is a block family, :class:`StdUNetBlocks` or :class:`ResUNetBlocks`: the class that
builds each encoder and decoder stage. :class:`~isla_nnunet.networks.unet.ISLAUNet` takes the family
as a class (plans store its name, ``"std"`` or ``"res"``, read once by :func:`block_family`). A new
flavour is a new family with the same two methods.

Example:
    >>> block_family("res") is ResUNetBlocks, block_family(StdUNetBlocks) is StdUNetBlocks
    (True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from isla_nnunet.networks.layers import make_dropout, make_nonlin, make_norm, max_pool_for
from isla_nnunet.networks.padding import SamePadConv


@dataclass(frozen=True)
class ConvOps:
    """The operator classes (with kwargs) a block is built from, as in dynamic-network-architectures."""

    conv_op: type[nn.Module] = nn.Conv3d
    norm_op: type[nn.Module] = nn.GroupNorm
    norm_op_kwargs: dict = field(default_factory=lambda: {"num_groups": 8, "eps": 1e-5, "affine": True})
    nonlin: type[nn.Module] = nn.LeakyReLU
    nonlin_kwargs: dict = field(default_factory=lambda: {"negative_slope": 0.3, "inplace": True})
    dropout_op: type[nn.Module] | None = nn.Dropout
    dropout_op_kwargs: dict = field(default_factory=lambda: {"p": 0.5})
    conv_bias: bool = True

    def conv(self, cin: int, cout: int, kernel: Sequence[int], stride: Sequence[int] | None = None) -> nn.Module:
        return SamePadConv(self.conv_op, cin, cout, kernel, stride, bias=self.conv_bias)

    def pointwise(self, cin: int, cout: int, stride: Sequence[int] | None = None) -> nn.Module:
        return self.conv_op(cin, cout, 1, stride=tuple(stride) if stride else 1, bias=True)

    def norm(self, channels: int) -> nn.Module:
        return make_norm(self.norm_op, channels, self.norm_op_kwargs)

    def act(self) -> nn.Module:
        return make_nonlin(self.nonlin, self.nonlin_kwargs)

    def dropout(self, enabled: bool) -> nn.Module:
        return make_dropout(self.dropout_op if enabled else None, self.dropout_op_kwargs)

    def max_pool(self, stride: Sequence[int]) -> nn.Module:
        return max_pool_for(self.conv_op)(tuple(stride), tuple(stride))


class StdBlock(nn.Sequential):
    """``[Conv - Norm - Nonlin (- Dropout)] x 2`` (StdUNet).

    Shapes: (B, in_channels, *S) -> (B, out_channels, *S).
    """

    def __init__(self, ops: ConvOps, in_channels: int, out_channels: int, kernel_size: Sequence[int],
                 dropout: bool = False):
        layers: list[nn.Module] = []
        for cin in (in_channels, out_channels):
            layers += [ops.conv(cin, out_channels, kernel_size), ops.norm(out_channels), ops.act()]
            if dropout:
                layers.append(ops.dropout(True))
        super().__init__(*layers)


class StdDownBlock(nn.Sequential):
    """Max-pooling by ``stride`` followed by a :class:`StdBlock` (StdUNet encoder stage)."""

    def __init__(self, ops: ConvOps, in_channels: int, out_channels: int, kernel_size: Sequence[int],
                 stride: Sequence[int], dropout: bool = False):
        super().__init__(ops.max_pool(stride), StdBlock(ops, in_channels, out_channels, kernel_size, dropout))


class ResInputBlock(nn.Module):
    """First ResUNet block: ``Conv - Norm - Nonlin - Conv`` plus a 1x1x1 convolution of the input."""

    def __init__(self, ops: ConvOps, in_channels: int, out_channels: int, kernel_size: Sequence[int]):
        super().__init__()
        self.body = nn.Sequential(
            ops.conv(in_channels, out_channels, kernel_size), ops.norm(out_channels), ops.act(),
            ops.conv(out_channels, out_channels, kernel_size),
        )
        self.shortcut = ops.pointwise(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class ResBlock(nn.Module):
    """Pre-activation residual block ``[Norm - Nonlin - Conv] x 2`` (ResUNet).

    The first convolution has ``first_kernel_size`` and ``stride`` (a strided 4x4x2 convolution when
    the block down-samples); the identity path is a 1x1x1 convolution with the same stride. Dropout,
    when enabled, sits before the last convolution.

    Shapes: (B, in_channels, *S) -> (B, out_channels, *ceil(S / stride)).
    """

    def __init__(self, ops: ConvOps, in_channels: int, out_channels: int, kernel_size: Sequence[int],
                 first_kernel_size: Sequence[int] | None = None, stride: Sequence[int] | None = None,
                 dropout: bool = False):
        super().__init__()
        first_kernel_size = first_kernel_size or kernel_size
        self.body = nn.Sequential(
            ops.norm(in_channels), ops.act(), ops.conv(in_channels, out_channels, first_kernel_size, stride),
            ops.norm(out_channels), ops.act(), ops.dropout(dropout),
            ops.conv(out_channels, out_channels, kernel_size),
        )
        self.shortcut = ops.pointwise(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class StdUNetBlocks:
    """StdUNet's stages: :class:`StdBlock` first, then max-pooling + :class:`StdBlock`; decoder :class:`StdBlock`."""

    name = "std"

    @staticmethod
    def encoder_stage(ops: ConvOps, level: int, in_channels: int, out_channels: int, kernel_size: Sequence[int],
                      stride: Sequence[int], downsample_kernel_size: Sequence[int] | None,
                      dropout: bool) -> nn.Module:
        if level == 0:
            return StdBlock(ops, in_channels, out_channels, kernel_size, dropout)
        return StdDownBlock(ops, in_channels, out_channels, kernel_size, stride, dropout)

    @staticmethod
    def decoder_stage(ops: ConvOps, in_channels: int, out_channels: int, kernel_size: Sequence[int],
                      dropout: bool) -> nn.Module:
        return StdBlock(ops, in_channels, out_channels, kernel_size, dropout)


class ResUNetBlocks:
    """ResUNet's stages: :class:`ResInputBlock` first, then strided :class:`ResBlock`; decoder :class:`ResBlock`."""

    name = "res"

    @staticmethod
    def encoder_stage(ops: ConvOps, level: int, in_channels: int, out_channels: int, kernel_size: Sequence[int],
                      stride: Sequence[int], downsample_kernel_size: Sequence[int] | None,
                      dropout: bool) -> nn.Module:
        if level == 0:
            return ResInputBlock(ops, in_channels, out_channels, kernel_size)
        return ResBlock(ops, in_channels, out_channels, kernel_size, downsample_kernel_size or kernel_size, stride,
                        dropout)

    @staticmethod
    def decoder_stage(ops: ConvOps, in_channels: int, out_channels: int, kernel_size: Sequence[int],
                      dropout: bool) -> nn.Module:
        return ResBlock(ops, in_channels, out_channels, kernel_size, dropout=dropout)


BLOCK_FAMILIES = {family.name: family for family in (StdUNetBlocks, ResUNetBlocks)}


def block_family(block: str | type) -> type:
    """The block family named ``block`` in plans ("std", "res"), or ``block`` itself when it is a class.

    Raises:
        ValueError: an unknown name.
    """
    if isinstance(block, type):
        return block
    if block not in BLOCK_FAMILIES:
        raise ValueError(f"block must be one of {tuple(BLOCK_FAMILIES)} or a block family class, got {block!r}")
    return BLOCK_FAMILIES[block]
