"""The asymmetric residual patch U-Net of Clèrigues et al. (2019), §3.2 and Figure 2.

Reference: A. Clèrigues, S. Valverde, J. Bernal, J. Freixenet, A. Oliver, X. Lladó, "Acute and
sub-acute stroke lesion segmentation from multimodal MRI", Computer Methods and Programs in
Biomedicine 194 (2020) 105521 (arXiv:1810.13304).

What the paper states: a 3D encoder-decoder with 4 resolution steps and 32 base filters for
24x24x16 patches; residual blocks of two convolutions in the encoder and one in the decoder, giving
about 75 % of the parameters to the encoder and 25 % to the decoder; PReLU; down-sampling by
concatenating a max pooling and a strided convolution; transposed-convolution up-sampling; short
(within a block) and long (encoder to decoder) residual connections; dropout.

What it leaves open, chosen here (the parameter split is tested):

* channels double per level, 32-64-128-256: the concatenation of the pooled input (C channels) and a
  strided convolution with C outputs gives the next level's 2C channels without a further layer;
* 3x3x3 kernels, also for the strided and the transposed convolutions (stride 2, ``output_padding``
  1): with them the encoder holds 75.2 % of the parameters at the default filters, the paper's split;
* a long residual connection adds the encoder's features to the up-sampled ones (uResNet's sum, not
  the concatenation of the original U-Net); a short one adds a block's input to its last
  convolution, and PReLU follows each convolution and each sum;
* no normalisation layer (the paper names none); one dropout layer after every down-sampling and
  every long residual sum (``dropout_op``, p = 0.2 in the plans).

The network returns two-class logits (B, 2, *S) for nnU-Net's softmax; it has no deep supervision.

Example:
    >>> import torch
    >>> net = CleriguesUNet(4, 2)
    >>> net(torch.zeros(1, 4, 16, 24, 24)).shape
    torch.Size([1, 2, 16, 24, 24])
    >>> round(encoder_share(net), 3)
    0.752
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from isla_nnunet.networks.cpu_execution import CPUExecution
from isla_nnunet.networks.layers import conv_dimension, make_dropout, make_nonlin, max_pool_for, transposed_conv_for

DEFAULT_FEATURES = (32, 64, 128, 256)


class ResidualConvBlock(nn.Module):
    """``n_convs`` convolutions (PReLU after each but the last), plus the block's input, then PReLU.

    Shapes: (B, C, *S) -> (B, C, *S).
    """

    def __init__(self, conv_op: type[nn.Module], channels: int, n_convs: int, kernel_size: int,
                 nonlin: type[nn.Module], nonlin_kwargs: dict | None):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(n_convs):
            layers.append(conv_op(channels, channels, kernel_size, padding=kernel_size // 2))
            if i < n_convs - 1:
                layers.append(make_nonlin(nonlin, nonlin_kwargs))
        self.body = nn.Sequential(*layers)
        self.act = make_nonlin(nonlin, nonlin_kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + x)


class PoolConvDownsample(nn.Module):
    """Max pooling and a strided convolution side by side, concatenated (Szegedy et al.'s reduction).

    Shapes: (B, C, *S) -> (B, 2C, *S / stride).
    """

    def __init__(self, conv_op: type[nn.Module], channels: int, stride: Sequence[int], kernel_size: int,
                 nonlin: type[nn.Module], nonlin_kwargs: dict | None):
        super().__init__()
        self.pool = max_pool_for(conv_op)(tuple(stride), tuple(stride))
        self.conv = conv_op(channels, channels, kernel_size, stride=tuple(stride), padding=kernel_size // 2)
        self.act = make_nonlin(nonlin, nonlin_kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.pool(x), self.act(self.conv(x))), dim=1)


class CleriguesEncoder(nn.Module):
    """Input convolution, then per level a two-convolution residual block; down-sampling between levels.

    ``forward`` returns the feature maps of every level, finest first.
    """

    def __init__(self, conv_op, input_channels: int, features_per_stage: Sequence[int],
                 strides: Sequence[Sequence[int]], kernel_size: int, nonlin, nonlin_kwargs, dropout_op,
                 dropout_op_kwargs):
        super().__init__()
        self.conv_op = conv_op
        self.features_per_stage = tuple(features_per_stage)
        self.strides = [tuple(s) for s in strides]
        self.stem = nn.Sequential(conv_op(input_channels, features_per_stage[0], kernel_size, padding=kernel_size // 2),
                                  make_nonlin(nonlin, nonlin_kwargs))
        self.downsamples = nn.ModuleList()
        self.blocks = nn.ModuleList()
        for level, features in enumerate(features_per_stage):
            if level:
                self.downsamples.append(nn.Sequential(
                    PoolConvDownsample(conv_op, features_per_stage[level - 1], strides[level], kernel_size,
                                       nonlin, nonlin_kwargs),
                    make_dropout(dropout_op, dropout_op_kwargs)))
            self.blocks.append(ResidualConvBlock(conv_op, features, 2, kernel_size, nonlin, nonlin_kwargs))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.blocks[0](self.stem(x))
        skips = [x]
        for down, block in zip(self.downsamples, self.blocks[1:], strict=True):
            x = block(down(x))
            skips.append(x)
        return skips


class CleriguesDecoder(nn.Module):
    """Per level, coarsest first: transposed convolution, long residual sum, one-convolution block.

    Channels and strides are read from the encoder. ``deep_supervision`` exists because nnU-Net's
    trainer sets it; this network has one output only, so only False is accepted.
    """

    def __init__(self, encoder: CleriguesEncoder, num_classes: int, kernel_size: int, nonlin, nonlin_kwargs,
                 dropout_op, dropout_op_kwargs):
        super().__init__()
        conv_op = encoder.conv_op
        features, strides = encoder.features_per_stage, encoder.strides
        transposed = transposed_conv_for(conv_op)
        self.upsamples = nn.ModuleList()
        self.merges = nn.ModuleList()
        self.blocks = nn.ModuleList()
        for level in range(len(features) - 2, -1, -1):
            stride = strides[level + 1]
            self.upsamples.append(transposed(
                features[level + 1], features[level], kernel_size, stride=stride, padding=kernel_size // 2,
                output_padding=tuple(s - 1 for s in stride)))
            self.merges.append(nn.Sequential(make_nonlin(nonlin, nonlin_kwargs),
                                             make_dropout(dropout_op, dropout_op_kwargs)))
            self.blocks.append(ResidualConvBlock(conv_op, features[level], 1, kernel_size, nonlin, nonlin_kwargs))
        self.head = conv_op(features[0], num_classes, 1)
        self._deep_supervision = False

    @property
    def deep_supervision(self) -> bool:
        return self._deep_supervision

    @deep_supervision.setter
    def deep_supervision(self, enabled: bool) -> None:
        if enabled:
            raise ValueError("CleriguesUNet has a single output: train it with deep supervision off")

    def forward(self, skips: list[torch.Tensor]) -> torch.Tensor:
        x = skips[-1]
        for up, merge, block, skip in zip(self.upsamples, self.merges, self.blocks, reversed(skips[:-1]),
                                          strict=True):
            x = block(merge(up(x) + skip))
        return self.head(x)


class CleriguesUNet(nn.Module):
    """Clèrigues et al.'s asymmetric residual U-Net for small 3D patches (module docs for the layout).

    Args:
        input_channels: image channels (DWI, ADC and their symmetric versions: 4).
        num_classes: output channels (2: healthy, lesion logits for nnU-Net's softmax).
        features_per_stage: filters per level, finest first; each must be twice the previous one
            (the down-sampling concatenates two maps of the previous level's width).
        strides: per level, the down-sampling factor into it in array order (z, y, x), ``(1, 1, 1)``
            first; default 2 in every axis for every later level.
        kernel_size: odd kernel of every convolution (3).
        conv_op: ``nn.Conv3d`` (or ``nn.Conv2d``); pooling and transposed convolutions follow it.
        nonlin, nonlin_kwargs: the non-linearity (``nn.PReLU``).
        dropout_op, dropout_op_kwargs: dropout after down-sampling and long residual sums, or None.
        deep_supervision: must be False (nnU-Net passes it; the network has one output).

    Shapes:
        input (B, input_channels, *S) with S divisible by the product of the strides;
        output (B, num_classes, *S) logits in float32.

    Raises:
        ValueError: fewer than two levels, a width that does not double, strides of the wrong length,
            an even kernel size, or deep supervision.
    """

    def __init__(self, input_channels: int, num_classes: int, features_per_stage: Sequence[int] = DEFAULT_FEATURES,
                 strides: Sequence[Sequence[int]] | None = None, kernel_size: int = 3,
                 conv_op: type[nn.Module] = nn.Conv3d, nonlin: type[nn.Module] = nn.PReLU,
                 nonlin_kwargs: dict | None = None, dropout_op: type[nn.Module] | None = nn.Dropout,
                 dropout_op_kwargs: dict | None = None, deep_supervision: bool = False):
        super().__init__()
        n = len(features_per_stage)
        if n < 2:
            raise ValueError("CleriguesUNet needs at least two resolution levels")
        if any(b != 2 * a for a, b in itertools.pairwise(features_per_stage)):
            raise ValueError(f"features_per_stage must double from level to level, got {list(features_per_stage)}")
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        dims = conv_dimension(conv_op)
        strides = [tuple(s) for s in strides] if strides is not None else [(1,) * dims] + [(2,) * dims] * (n - 1)
        if len(strides) != n:
            raise ValueError(f"strides has {len(strides)} entries but features_per_stage has {n}")
        self.cpu_execution = CPUExecution()
        self.encoder = CleriguesEncoder(conv_op, input_channels, features_per_stage, strides, kernel_size, nonlin,
                                        nonlin_kwargs, dropout_op, dropout_op_kwargs)
        self.decoder = CleriguesDecoder(self.encoder, num_classes, kernel_size, nonlin, nonlin_kwargs, dropout_op,
                                        dropout_op_kwargs)
        self.decoder.deep_supervision = deep_supervision

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cpu_execution.prepare_input(x)
        with self.cpu_execution.context(x):
            logits = self.decoder(self.encoder(x))
        return logits.float()

    def compute_conv_feature_map_size(self, input_size: Sequence[int]) -> int:
        """Activation elements of one sample: every convolution's output at its level's resolution."""
        total, voxels = 0, 1
        for s in input_size:
            voxels *= int(s)
        for level, (features, stride) in enumerate(zip(self.encoder.features_per_stage, self.encoder.strides,
                                                       strict=True)):
            for s in stride:
                voxels //= int(s)
            # encoder: 2 convolutions and the sum; decoder (not the coarsest level): transposed
            # convolution, sum, one convolution and the sum
            total += features * voxels * (3 + (4 if level < len(self.encoder.strides) - 1 else 0))
        return total


def encoder_share(network: CleriguesUNet) -> float:
    """Fraction of the network's parameters in its encoder (the paper: about 0.75)."""
    encoder = sum(p.numel() for p in network.encoder.parameters())
    return encoder / sum(p.numel() for p in network.parameters())
