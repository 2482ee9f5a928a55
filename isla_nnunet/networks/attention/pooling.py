"""Global pooling over ALL spatial axes (the whole volume, not each slice), for 1D, 2D and 3D maps."""

from __future__ import annotations

import torch


def global_average_pool(x: torch.Tensor) -> torch.Tensor:
    """Mean over every spatial axis. Shapes: (B, C, *S) -> (B, C)."""
    return x.flatten(2).mean(dim=2)


def global_max_pool(x: torch.Tensor) -> torch.Tensor:
    """Maximum over every spatial axis. Shapes: (B, C, *S) -> (B, C)."""
    return x.flatten(2).amax(dim=2)


def as_channel_map(weights: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(B, C) weights as (B, C, 1, ..., 1), broadcastable against ``like`` (B, C, *S)."""
    return weights.reshape(*weights.shape, *([1] * (like.dim() - 2)))
