"""Additive attention gates (Schlemper et al., 2019): ISLA's AGs and its hybrid variant AGh.

``q = psi^T ReLU(Wx^T x + Wg^T g + b_g) + b_psi``, ``alpha = sigmoid(q)``, output ``alpha * x``, where
``x`` is the encoder skip and ``g`` the gating signal from the coarser decoder level. ``Wx`` is a
convolution whose kernel equals its stride, bringing ``x`` onto ``g``'s grid (ISLA's in-plane
(2, 2, 1) subsampling in x, y, z); ``Wg`` and ``psi`` are 1x1x1 convolutions; ``alpha`` is computed on
the coarse grid and resampled linearly back onto ``x``'s grid. AGs has one coefficient per voxel; AGh
(Roca et al., §3.2.3.4 and Appendix A) has one per encoder channel and voxel.

The intermediate width defaults to half the skip channels (at least 1), the default of Schlemper
et al.'s public implementation. Unlike that implementation there is no output convolution and batch
norm after the gating: ISLA's specification gates the skip directly and uses GroupNorm elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from isla_nnunet.networks.attention.coefficients import AttentionCoefficients, resample_linear


class AttentionGate(nn.Module):
    """Schlemper's additive attention gate, called as ``gate(x, g)``.

    Args:
        skip_channels: channels C of the skip ``x``.
        gating_channels: channels of the gating signal ``g``.
        stride: per spatial axis, how much coarser ``g``'s grid is than ``x``'s (array order, e.g.
            ``(1, 2, 2)`` for ISLA); also ``Wx``'s kernel.
        conv_op: ``nn.Conv2d`` or ``nn.Conv3d``.
        inter_channels: width of the additive layer (default ``max(1, C // 2)``).
        per_channel: False for AGs (alpha (B, 1, *S)), True for AGh (alpha (B, C, *S)).

    Shapes: x (B, C, *S), g (B, G, *S / stride) -> (B, C, *S); coefficients in ``self.coefficients``.

    Raises:
        ValueError: a non-positive channel count, or ``stride`` not matching ``conv_op``'s dimensionality.
    """

    def __init__(self, skip_channels: int, gating_channels: int, stride: Sequence[int],
                 conv_op: type[nn.Module] = nn.Conv3d, inter_channels: int | None = None,
                 per_channel: bool = False):
        super().__init__()
        if skip_channels < 1 or gating_channels < 1:
            raise ValueError(f"channel counts must be positive, got {skip_channels} and {gating_channels}")
        stride = tuple(int(s) for s in stride)
        dims = 3 if issubclass(conv_op, nn.Conv3d) else 2 if issubclass(conv_op, nn.Conv2d) else len(stride)
        if len(stride) != dims:
            raise ValueError(f"stride {stride} has {len(stride)} axes but {conv_op.__name__} has {dims}")
        inter = inter_channels or max(1, skip_channels // 2)
        self.per_channel = per_channel
        self.theta = conv_op(skip_channels, inter, kernel_size=stride, stride=stride, bias=False)
        self.phi = conv_op(gating_channels, inter, kernel_size=1, bias=True)
        self.psi = conv_op(inter, skip_channels if per_channel else 1, kernel_size=1, bias=True)
        self.coefficients = AttentionCoefficients("hybrid" if per_channel else "spatial")

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        theta_x = self.theta(x)
        # When the skip's size is not a multiple of the stride, g's grid and Wx's output differ by a voxel.
        phi_g = resample_linear(self.phi(g), theta_x.shape[2:])
        alpha = self.coefficients(self.psi(F.relu(theta_x + phi_g)), x.shape[2:])
        return alpha * x
