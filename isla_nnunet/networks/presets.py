"""ISLA's network layout as nnU-Net plans ``arch_kwargs``, and the per-variant changes to it.

The plans hold one layout (StdUNet: 4x4x2 kernels, GroupNorm(8), LeakyReLU(0.3)); trainers of the
ResUNet flavour apply :func:`with_block` to switch to pre-activation residual blocks with ReLU,
3x3x2 kernels and strided 4x4x2 down-sampling convolutions (Roca et al., §3.2.3), and every trainer
applies :func:`with_attention` to fill the U-Net's attention slots (§3.2.3.4).
"""

from __future__ import annotations

import copy

from isla_nnunet.reference import Z_SCORE_CLIP

NETWORK_CLASS = "isla_nnunet.networks.unet.ISLAUNet"
REQUIRES_IMPORT = ("conv_op", "norm_op", "nonlin", "dropout_op")

# Filters per level. The ISLA paper takes them "as Bridge et al. (2022)", whose counts are not
# published in the sources available here; this default is an assumption chosen so that a full-volume
# forward pass stays within the CPU budget (docs/benchmarks.md). Change it per dataset with
# `isla plan --features`.
DEFAULT_FEATURES = (8, 16, 32, 64, 128, 256)

STD_KERNEL = (2, 4, 4)
RES_KERNEL = (2, 3, 3)
RES_DOWNSAMPLE_KERNEL = (2, 4, 4)
IN_PLANE_POOLING = (1, 2, 2)

_ATTENTION = "isla_nnunet.networks.attention"
_SE = {"skip_attention_op": f"{_ATTENTION}.squeeze_excitation.SqueezeExcitation",
       "skip_attention_kwargs": {"reduction": 8}}
_CBAM = {"skip_attention_op": f"{_ATTENTION}.cbam.CBAM", "skip_attention_kwargs": {"reduction": 16}}
_AGS = {"gate_op": f"{_ATTENTION}.attention_gate.AttentionGate", "gate_kwargs": {"per_channel": False}}
_AGH = {"gate_op": f"{_ATTENTION}.attention_gate.AttentionGate", "gate_kwargs": {"per_channel": True}}
# Attention variant -> ISLAUNet slot entries (operator classes as dotted paths, like the plans' conv_op).
ATTENTION_SLOTS = {"none": {}, "se": _SE, "ags": _AGS, "agh": _AGH, "cbam": _CBAM, "seags": {**_SE, **_AGS}}
_EMPTY_SLOTS = {"skip_attention_op": None, "skip_attention_kwargs": None, "gate_op": None, "gate_kwargs": None}


def isla_arch_kwargs(features_per_stage=DEFAULT_FEATURES) -> dict:
    """The ``architecture`` entry of an ISLAPlans configuration (StdUNet layout, deep supervision off)."""
    n = len(features_per_stage)
    return {
        "network_class_name": NETWORK_CLASS,
        "arch_kwargs": {
            "features_per_stage": [int(f) for f in features_per_stage],
            "kernel_sizes": [list(STD_KERNEL)] * n,
            "strides": [[1, 1, 1]] + [list(IN_PLANE_POOLING)] * (n - 1),
            "block": "std",
            "conv_op": "torch.nn.modules.conv.Conv3d",
            "conv_bias": True,
            "norm_op": "torch.nn.modules.normalization.GroupNorm",
            "norm_op_kwargs": {"num_groups": 8, "eps": 1e-5, "affine": True},
            "nonlin": "torch.nn.modules.activation.LeakyReLU",
            "nonlin_kwargs": {"negative_slope": 0.3, "inplace": True},
            "dropout_op": "torch.nn.modules.dropout.Dropout",
            "dropout_op_kwargs": {"p": 0.5},
            "dropout_in_bottleneck": True,
            "dropout_decoder_stages": 2,
            "input_clip": list(Z_SCORE_CLIP),
        },
        "_kw_requires_import": list(REQUIRES_IMPORT),
    }


def requires_import(arch_kwargs: dict, listed=REQUIRES_IMPORT) -> list[str]:
    """The ``arch_kwargs`` entries that are dotted paths to import (nnU-Net's ``arch_kwargs_req_import``):
    those the plans list, and every attention variant's ``*_op``.

    Example:
        >>> requires_import({"conv_op": "torch.nn.Conv3d", "gate_op": "a.B", "skip_attention_op": None})
        ['conv_op', 'gate_op']
    """
    return [k for k, v in arch_kwargs.items() if isinstance(v, str) and (k in listed or k.endswith("_op"))]


def with_block(arch_kwargs: dict, block: str) -> dict:
    """A copy of plans ``arch_kwargs`` switched to ``block`` ("std" leaves the plans as they are)."""
    out = copy.deepcopy(arch_kwargs)
    if block == "std":
        return out
    if block != "res":
        raise ValueError(f"block must be 'std' or 'res', got {block!r}")
    n = len(out["features_per_stage"])
    out.update({
        "block": "res",
        "kernel_sizes": [list(RES_KERNEL)] * n,
        "downsample_kernel_sizes": [list(RES_DOWNSAMPLE_KERNEL)] * n,
        "nonlin": "torch.nn.modules.activation.ReLU",
        "nonlin_kwargs": {"inplace": True},
    })
    return out


def with_attention(arch_kwargs: dict, attention: str) -> dict:
    """A copy of plans ``arch_kwargs`` with exactly the attention of variant ``attention``.

    Variants: ``none``, ``se`` (SE on the skips), ``ags`` / ``agh`` (attention gates), ``cbam`` (CBAM on
    the skips), ``seags`` (SE on the skips, then AGs). Slots the variant does not use are emptied, so
    the variant, not the plans, decides the attention.

    Raises:
        ValueError: unknown ``attention``.
    """
    if attention not in ATTENTION_SLOTS:
        raise ValueError(f"attention must be one of {tuple(ATTENTION_SLOTS)}, got {attention!r}")
    out = copy.deepcopy(arch_kwargs)
    out.update(copy.deepcopy(_EMPTY_SLOTS))
    out.update(copy.deepcopy(ATTENTION_SLOTS[attention]))
    return out
