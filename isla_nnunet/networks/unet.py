"""The ISLA U-Net (Roca et al., §3.2.2-3.2.3, Table 2), built from the nnU-Net plans.

A whole-volume U-Net with one resolution level per entry of ``features_per_stage`` (six in ISLA),
in-plane pooling only, two convolutions per level and an optional deep-supervision head at the
bottleneck and at every decoder stage. Heads are 1x1x1 convolutions to ONE lesion logit ``z``;
every deep-supervision logit is upsampled (linearly) to full resolution, as ISLA trains all heads
against the full-resolution target.

nnU-Net treats a single foreground label as a two-class softmax problem. With ``num_classes=2`` the
network returns ``[0, z]`` per voxel: ``softmax([0, z])[1] == sigmoid(z)`` exactly and the arg-max is
``sigmoid(z) > 0.5``, so nnU-Net's probabilities, arg-max and ``nnUNetv2_ensemble`` keep ISLA's
sigmoid semantics. With ``num_classes=1`` it returns ``z``.

The stages come from a block family (:mod:`isla_nnunet.networks.blocks`: StdUNet or ResUNet), and
the decoder is built from the encoder it mirrors (its channels, kernels and strides).

Attention plugs in through two slots, each an operator class (plus kwargs) or ``None``:

* ``skip_attention_op(channels, conv_op=...)`` modulates the skip connection only (SE, and CBAM as in
  Trebing et al.'s SmaAt-UNet);
* ``gate_op(skip_channels, gating_channels, stride, conv_op=...)`` is called as ``gate(x, g)`` with the
  skip ``x`` and the coarser decoder signal ``g`` and returns the gated skip (attention gates).

The modules are in :mod:`isla_nnunet.networks.attention`; :func:`isla_nnunet.networks.presets.with_attention`
fills the slots for each variant of the grid.

Example:
    >>> import torch
    >>> net = ISLAUNet(2, 2, features_per_stage=(8, 8, 16), kernel_sizes=[(2, 4, 4)] * 3,
    ...                strides=[(1, 1, 1), (1, 2, 2), (1, 2, 2)], deep_supervision=True)
    >>> outputs = net(torch.zeros(1, 2, 4, 16, 16))
    >>> [tuple(o.shape) for o in outputs]
    [(1, 2, 4, 16, 16), (1, 2, 4, 16, 16), (1, 2, 4, 16, 16)]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from isla_nnunet.networks.blocks import ConvOps, block_family
from isla_nnunet.networks.cpu_execution import CPUExecution
from isla_nnunet.networks.layers import conv_dimension
from isla_nnunet.networks.memory import activation_elements


def _kwargs(value: dict | None) -> dict:
    return dict(value or {})


class ISLAEncoder(nn.Module):
    """Encoder stages; returns the skip tensors (finest first) and the bottleneck output.

    Keeps what its decoder mirrors: ``ops``, ``blocks`` (the family), ``features``, ``kernel_sizes``
    and ``strides`` (one entry per level, finest first).
    """

    def __init__(self, ops: ConvOps, blocks: type, input_channels: int, features: Sequence[int],
                 kernel_sizes: Sequence[Sequence[int]], strides: Sequence[Sequence[int]],
                 downsample_kernel_sizes: Sequence[Sequence[int]] | None, dropout_in_bottleneck: bool,
                 skip_attention_op, skip_attention_kwargs):
        super().__init__()
        self.ops, self.blocks = ops, blocks
        self.features, self.kernel_sizes = tuple(features), [tuple(k) for k in kernel_sizes]
        self.strides = [tuple(s) for s in strides]
        n = len(features)
        self.stages = nn.ModuleList(
            blocks.encoder_stage(ops, i, input_channels if i == 0 else features[i - 1], features[i], kernel_sizes[i],
                                 strides[i], downsample_kernel_sizes[i] if downsample_kernel_sizes else None,
                                 dropout_in_bottleneck and i == n - 1)
            for i in range(n))
        self.skip_attention = nn.ModuleList(
            skip_attention_op(f, conv_op=ops.conv_op, **_kwargs(skip_attention_kwargs))
            if skip_attention_op else nn.Identity() for f in features[:-1])

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        skips = []
        for i, stage in enumerate(self.stages[:-1]):
            x = stage(x)
            skips.append(self.skip_attention[i](x))
        return skips, self.stages[-1](x)


class ISLADecoder(nn.Module):
    """Decoder stages (coarsest first) with linear upsampling, optional gates and deep-supervision heads.

    Built from ``encoder``: a stage per encoder level but the bottleneck, of the encoder's block family,
    channels and kernels, gated (when ``gate_op`` is given) at the encoder's stride into the coarser level.
    ``deep_supervision`` is read at every forward pass: nnU-Net switches it off for validation and
    inference through ``network.decoder.deep_supervision``. The heads always exist so that a checkpoint
    loads whichever way the network was built.
    """

    def __init__(self, encoder: ISLAEncoder, dropout_decoder_stages: int, gate_op, gate_kwargs,
                 deep_supervision: bool):
        super().__init__()
        ops, features, kernel_sizes, strides = encoder.ops, encoder.features, encoder.kernel_sizes, encoder.strides
        n = len(features)
        self.deep_supervision = deep_supervision
        stages, gates = [], []
        for k, level in enumerate(range(n - 2, -1, -1)):
            stages.append(encoder.blocks.decoder_stage(ops, features[level + 1] + features[level], features[level],
                                                       kernel_sizes[level], k < dropout_decoder_stages))
            gates.append(gate_op(features[level], features[level + 1], strides[level + 1], conv_op=ops.conv_op,
                                 **_kwargs(gate_kwargs)) if gate_op else None)
        self.stages = nn.ModuleList(stages)
        self.gates = nn.ModuleList(gates) if gate_op else None
        # Heads ordered like the stages: bottleneck first, final output last.
        self.heads = nn.ModuleList(ops.pointwise(f, 1) for f in [features[-1]] + list(features[-2::-1]))
        self._linear_mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[conv_dimension(ops.conv_op)]

    def _upsample(self, x: torch.Tensor, size) -> torch.Tensor:
        return F.interpolate(x, size=size, mode=self._linear_mode, align_corners=False)

    def forward(self, skips: list[torch.Tensor], bottleneck: torch.Tensor) -> list[torch.Tensor]:
        """Returns the lesion logits, final (full resolution) first, then coarser heads if supervising."""
        x = bottleneck
        logits = [self.heads[0](x)] if self.deep_supervision else []
        for k, stage in enumerate(self.stages):
            skip = skips[-1 - k]
            if self.gates is not None:
                skip = self.gates[k](skip, x)
            x = stage(torch.cat((skip, self._upsample(x, skip.shape[2:])), dim=1))
            if self.deep_supervision or k == len(self.stages) - 1:
                logits.append(self.heads[k + 1](x))
        full = logits[-1].shape[2:]
        return [self._upsample(z, full) if z.shape[2:] != full else z for z in reversed(logits)]


class ISLAUNet(nn.Module):
    """ISLA's StdUNet / ResUNet.

    Args:
        input_channels: image channels (2: DWI, ADC).
        num_classes: 1 returns the lesion logit ``z``; 2 returns ``[0, z]`` for nnU-Net's softmax.
        features_per_stage: filters per resolution level, finest first (one entry per level).
        kernel_sizes: per level, the convolution kernel in array order (z, y, x), e.g. ``(2, 4, 4)``.
        strides: per level, the down-sampling factor into that level (``(1, 1, 1)`` for the first).
        block: the block family, a class of :mod:`isla_nnunet.networks.blocks` (``StdUNetBlocks``,
            ``ResUNetBlocks``) or its plans name ``"std"`` / ``"res"``.
        conv_op, norm_op, norm_op_kwargs, nonlin, nonlin_kwargs, dropout_op, dropout_op_kwargs, conv_bias:
            operator classes and kwargs (see :class:`~isla_nnunet.networks.blocks.ConvOps`).
        downsample_kernel_sizes: ResUNet only: kernel of the strided convolution into each level.
        dropout_in_bottleneck: dropout in the bottleneck block.
        dropout_decoder_stages: how many decoder blocks, from the coarsest, use dropout (ISLA: 2).
        deep_supervision: return all heads (final first) instead of the final logits only.
        input_clip: ``(low, high)`` clamp applied to the input (ISLA clips z-scores to [-5, 5]), or None.
        skip_attention_op, gate_op (+ ``*_kwargs``): attention slots (module docs).

    Shapes:
        input (B, input_channels, *S) with S divisible by the product of the strides;
        output (B, num_classes, *S), or a list of those when ``deep_supervision``.

    Raises:
        ValueError: inconsistent per-level lists, an unknown block, or ``num_classes`` not in {1, 2}.
    """

    def __init__(self, input_channels: int, num_classes: int, features_per_stage: Sequence[int],
                 kernel_sizes: Sequence[Sequence[int]], strides: Sequence[Sequence[int]], block: str | type = "std",
                 conv_op: type[nn.Module] = nn.Conv3d, norm_op: type[nn.Module] = nn.GroupNorm,
                 norm_op_kwargs: dict | None = None, nonlin: type[nn.Module] = nn.LeakyReLU,
                 nonlin_kwargs: dict | None = None, dropout_op: type[nn.Module] | None = nn.Dropout,
                 dropout_op_kwargs: dict | None = None, conv_bias: bool = True,
                 downsample_kernel_sizes: Sequence[Sequence[int]] | None = None,
                 dropout_in_bottleneck: bool = True, dropout_decoder_stages: int = 2,
                 deep_supervision: bool = False, input_clip: Sequence[float] | None = None,
                 skip_attention_op=None, skip_attention_kwargs: dict | None = None,
                 gate_op=None, gate_kwargs: dict | None = None):
        super().__init__()
        n = len(features_per_stage)
        blocks = block_family(block)
        if num_classes not in (1, 2):
            raise ValueError(f"ISLAUNet predicts one lesion class: num_classes must be 1 or 2, got {num_classes}")
        lists = {"kernel_sizes": kernel_sizes, "strides": strides}
        if downsample_kernel_sizes is not None:
            lists["downsample_kernel_sizes"] = downsample_kernel_sizes
        for name, value in lists.items():
            if len(value) != n:
                raise ValueError(f"{name} has {len(value)} entries but features_per_stage has {n}")
        if n < 2:
            raise ValueError("ISLAUNet needs at least two resolution levels")
        # Unset kwargs fall back to ISLA's (GroupNorm(8), LeakyReLU(0.3), dropout 0.5) in ConvOps.
        given_kwargs = {"norm_op_kwargs": norm_op_kwargs, "nonlin_kwargs": nonlin_kwargs,
                        "dropout_op_kwargs": dropout_op_kwargs}
        ops = ConvOps(conv_op=conv_op, norm_op=norm_op, nonlin=nonlin, dropout_op=dropout_op, conv_bias=conv_bias,
                      **{k: v for k, v in given_kwargs.items() if v is not None})
        self.num_classes = num_classes
        self.input_channels = input_channels
        # float32, contiguous memory until a caller chooses otherwise (CPUExecution.apply).
        self.cpu_execution = CPUExecution()
        self.input_clip = tuple(input_clip) if input_clip is not None else None
        self.strides = [tuple(s) for s in strides]
        self.features_per_stage = tuple(features_per_stage)
        self.encoder = ISLAEncoder(ops, blocks, input_channels, features_per_stage, kernel_sizes, strides,
                                   downsample_kernel_sizes, dropout_in_bottleneck, skip_attention_op,
                                   skip_attention_kwargs)
        self.decoder = ISLADecoder(self.encoder, dropout_decoder_stages, gate_op, gate_kwargs, deep_supervision)

    def _as_classes(self, z: torch.Tensor) -> torch.Tensor:
        return z if self.num_classes == 1 else torch.cat((torch.zeros_like(z), z), dim=1)

    def forward(self, x: torch.Tensor):
        if self.input_clip is not None:
            x = x.clamp(*self.input_clip)
        x = self.cpu_execution.prepare_input(x)
        with self.cpu_execution.context(x):
            heads = self.decoder(*self.encoder(x))
        # Losses and nnU-Net's probability export work in float32 whatever the network computed in.
        logits = [self._as_classes(z.float()) for z in heads]
        return logits if self.decoder.deep_supervision else logits[0]

    def feature_map_sizes(self, input_size: Sequence[int]) -> dict[str, int]:
        """Activation elements one training sample keeps, per block, measured (:mod:`.memory`).

        Keys are the blocks' module names (``encoder.stages.0``, ``encoder.skip_attention.0``,
        ``decoder.gates.0``, ``decoder.stages.0``, ``decoder.heads.0``, ...) and ``other`` (the
        decoder's upsampling and concatenations, the final two-class logits).
        """
        named = dict(self.named_modules())
        prefixes = ("encoder.stages.", "encoder.skip_attention.", "decoder.gates.", "decoder.stages.",
                    "decoder.heads.")
        parts = {name: module for name, module in named.items()
                 if name.startswith(prefixes) and name.count(".") == 2}
        return activation_elements(self, (self.input_channels, *input_size), parts)

    def compute_conv_feature_map_size(self, input_size: Sequence[int]) -> int:
        """Activation elements of one training sample, for nnU-Net's memory rule (the sum of
        :meth:`feature_map_sizes`: every block, attention, shortcut and deep-supervision head)."""
        return sum(self.feature_map_sizes(input_size).values())
