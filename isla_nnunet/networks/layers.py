"""Small helpers shared by the ISLA blocks: building norm and non-linearity from (class, kwargs)."""

from __future__ import annotations

import inspect

from torch import nn


def make_norm(norm_op: type[nn.Module], channels: int, norm_op_kwargs: dict | None) -> nn.Module:
    """Instantiate ``norm_op`` for ``channels`` whether it names them ``num_channels`` (GroupNorm) or not."""
    kwargs = dict(norm_op_kwargs or {})
    if "num_channels" in inspect.signature(norm_op).parameters:
        return norm_op(num_channels=channels, **kwargs)
    return norm_op(channels, **kwargs)


def make_nonlin(nonlin: type[nn.Module], nonlin_kwargs: dict | None) -> nn.Module:
    return nonlin(**(nonlin_kwargs or {}))


def make_dropout(dropout_op: type[nn.Module] | None, dropout_op_kwargs: dict | None) -> nn.Module:
    if dropout_op is None:
        return nn.Identity()
    return dropout_op(**(dropout_op_kwargs or {}))
