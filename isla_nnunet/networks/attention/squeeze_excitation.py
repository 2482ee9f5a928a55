"""Squeeze-and-excitation (Hu et al., 2020), ISLA's channel attention on the skip connections.

``s = sigmoid(W2 ReLU(W1 GAP(u)))`` with a bottleneck of ``channels // reduction`` units and output
``u * s`` (one weight per channel). ISLA places one after each of the five encoder blocks, modulating
the skip connection only, with reduction 8 as Rundo et al.'s USE-Net (Roca et al., §3.2.3.4).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from isla_nnunet.networks.attention.coefficients import AttentionCoefficients
from isla_nnunet.networks.attention.pooling import as_channel_map, global_average_pool

SE_REDUCTION = 8


class SqueezeExcitation(nn.Module):
    """Channel gating by a two-layer bottleneck on the global average of each channel.

    Args:
        channels: feature channels C.
        reduction: bottleneck ratio r; the hidden layer has ``max(1, C // r)`` units.
        conv_op: accepted for the attention-slot contract of :class:`~isla_nnunet.networks.unet.ISLAUNet`;
            the block works on any number of spatial axes.

    Shapes: (B, C, *S) -> (B, C, *S); coefficients (B, C, 1, ..., 1) in ``self.weights``.

    Raises:
        ValueError: ``channels`` or ``reduction`` not positive.
    """

    def __init__(self, channels: int, reduction: int = SE_REDUCTION, conv_op: type[nn.Module] | None = None):
        super().__init__()
        if channels < 1 or reduction < 1:
            raise ValueError(f"channels ({channels}) and reduction ({reduction}) must be positive")
        hidden = max(1, channels // reduction)
        self.squeeze_fc = nn.Linear(channels, hidden)
        self.excite_fc = nn.Linear(hidden, channels)
        self.weights = AttentionCoefficients("channel")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.excite_fc(F.relu(self.squeeze_fc(global_average_pool(x))))
        return x * self.weights(as_channel_map(logits, x))
