"""Convolutional block attention module (Woo et al., 2018) in 2D or 3D.

Channel attention ``Mc = sigmoid(MLP(AvgPool(F)) + MLP(MaxPool(F)))`` with one MLP shared by both
pooled descriptors (pooling over all spatial axes), then spatial attention
``Ms = sigmoid(conv([AvgPool_c(F'); MaxPool_c(F')]))`` on the channel-wise mean and maximum, each
applied multiplicatively: ``F' = Mc * F``, ``F'' = Ms * F'``.

ISLA (Roca et al., §3.2.3.4) adapts it to 3D with a 7x7x3 spatial convolution (``(3, 7, 7)`` in array
order z, y, x) and places it after every encoder stage but the bottleneck, modulating the skip
connections as Trebing et al.'s SmaAt-UNet does. The MLP ratio is not given by ISLA; Woo et al.'s 16 is
the default (hidden layer at least one unit). The spatial convolution has a bias and no
normalisation, as in Woo et al.'s formula.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from isla_nnunet.networks.attention.coefficients import AttentionCoefficients
from isla_nnunet.networks.attention.pooling import as_channel_map, global_average_pool, global_max_pool
from isla_nnunet.networks.padding import SamePadConv

CBAM_REDUCTION = 16
CBAM_KERNEL_3D = (3, 7, 7)
CBAM_KERNEL_2D = (7, 7)


def default_spatial_kernel(conv_op: type[nn.Module]) -> tuple[int, ...]:
    """ISLA's 7x7x3 kernel for 3D convolutions, Woo et al.'s 7x7 for 2D.

    Raises:
        ValueError: ``conv_op`` is neither a 2D nor a 3D convolution.
    """
    if issubclass(conv_op, nn.Conv3d):
        return CBAM_KERNEL_3D
    if issubclass(conv_op, nn.Conv2d):
        return CBAM_KERNEL_2D
    raise ValueError(f"CBAM needs nn.Conv2d or nn.Conv3d (or a subclass), got {conv_op.__name__}")


class ChannelAttention(nn.Module):
    """CBAM's channel attention. Shapes: (B, C, *S) -> (B, C, *S); coefficients (B, C, 1, ..., 1)."""

    def __init__(self, channels: int, reduction: int = CBAM_REDUCTION):
        super().__init__()
        if channels < 1 or reduction < 1:
            raise ValueError(f"channels ({channels}) and reduction ({reduction}) must be positive")
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels))
        self.weights = AttentionCoefficients("channel")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.mlp(global_average_pool(x)) + self.mlp(global_max_pool(x))
        return x * self.weights(as_channel_map(logits, x))


class SpatialAttention(nn.Module):
    """CBAM's spatial attention. Shapes: (B, C, *S) -> (B, C, *S); coefficients (B, 1, *S) in [0, 1].

    The input of the convolution is ``[mean over channels; max over channels]`` (that order), and the
    convolution keeps the grid ("same" zero padding).
    """

    def __init__(self, conv_op: type[nn.Module] = nn.Conv3d, kernel_size: Sequence[int] | None = None):
        super().__init__()
        kernel = tuple(kernel_size) if kernel_size is not None else default_spatial_kernel(conv_op)
        self.conv = SamePadConv(conv_op, 2, 1, kernel, bias=True)
        self.weights = AttentionCoefficients("spatial")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        descriptor = torch.cat((x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)), dim=1)
        return x * self.weights(self.conv(descriptor))


class CBAM(nn.Module):
    """Channel then spatial attention (Woo et al., 2018).

    Args:
        channels: feature channels C.
        conv_op: ``nn.Conv2d`` or ``nn.Conv3d``; sets the spatial kernel's default.
        reduction: channel-MLP ratio (hidden units ``max(1, C // reduction)``).
        spatial_kernel_size: spatial-attention kernel in array order
            (default: :func:`default_spatial_kernel`).

    Shapes: (B, C, *S) -> (B, C, *S).

    Raises:
        ValueError: non-positive ``channels``/``reduction`` or an unsupported ``conv_op``.
    """

    def __init__(self, channels: int, conv_op: type[nn.Module] = nn.Conv3d, reduction: int = CBAM_REDUCTION,
                 spatial_kernel_size: Sequence[int] | None = None):
        super().__init__()
        self.channel = ChannelAttention(channels, reduction)
        self.spatial = SpatialAttention(conv_op, spatial_kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(self.channel(x))

