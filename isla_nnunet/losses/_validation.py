"""Shape and value checks shared by the binary segmentation losses.

The checks raise :class:`ValueError` with the name of the loss that rejected the input, so that a
wrong trainer configuration (three output channels, an ignore label, a target without its channel
axis) fails at the first training step with a message instead of training on garbage.
"""

from __future__ import annotations

import torch


def check_binary_target(target: torch.Tensor, owner: str) -> None:
    """Raise ``ValueError`` unless every value of ``target`` is 0 or 1.

    NaN fails the test too. Costs one element-wise pass; the offending values are only gathered on
    the error path.
    """
    if target.dtype == torch.bool:
        return
    not_binary = (target != 0) & (target != 1)
    if bool(not_binary.any()):
        found = torch.unique(target[not_binary])[:5].tolist()
        raise ValueError(
            f"{owner}: target must contain only the labels 0 and 1, found {found}; "
            "an ignore label or a multi-class target cannot be used with this binary loss"
        )


def check_logits_and_target(logits: torch.Tensor, target: torch.Tensor, owner: str) -> None:
    """Raise ``ValueError`` unless ``logits`` is (B, 1, *spatial) floating point and ``target`` matches it."""
    if logits.ndim < 3 or logits.shape[1] != 1:
        raise ValueError(
            f"{owner}: logits must have shape (B, 1, *spatial) with one binary logit per voxel, "
            f"got {tuple(logits.shape)}"
        )
    if not logits.is_floating_point():
        raise ValueError(f"{owner}: logits must be a floating-point tensor, got {logits.dtype}")
    if target.shape != logits.shape:
        raise ValueError(
            f"{owner}: target shape {tuple(target.shape)} differs from logits shape {tuple(logits.shape)}"
        )
    check_binary_target(target, owner)
