"""Attention modules of the ISLA grid (Roca et al., §3.2.3.4), for the slots of the ISLA U-Net.

* :class:`SqueezeExcitation` (SE, Hu et al.) and :class:`CBAM` (Woo et al.) take ``(channels, conv_op=...)``
  and modulate a skip connection;
* :class:`AttentionGate` (AGs; AGh with ``per_channel=True``; Schlemper et al.) takes
  ``(skip_channels, gating_channels, stride, conv_op=...)`` and is called as ``gate(x, g)``.

All coefficients pass through :class:`AttentionCoefficients`, which :func:`capture_attention_maps` hooks.
"""

from isla_nnunet.networks.attention.attention_gate import AttentionGate
from isla_nnunet.networks.attention.capture import (
    AttentionMap,
    capture_attention_maps,
    coefficient_modules,
    recording_attention,
)
from isla_nnunet.networks.attention.cbam import CBAM, ChannelAttention, SpatialAttention
from isla_nnunet.networks.attention.coefficients import AttentionCoefficients, resample_linear
from isla_nnunet.networks.attention.pooling import global_average_pool, global_max_pool
from isla_nnunet.networks.attention.squeeze_excitation import SqueezeExcitation

__all__ = ["CBAM", "AttentionCoefficients", "AttentionGate", "AttentionMap", "ChannelAttention",
           "SpatialAttention", "SqueezeExcitation", "capture_attention_maps", "coefficient_modules",
           "global_average_pool", "global_max_pool", "recording_attention", "resample_linear"]
