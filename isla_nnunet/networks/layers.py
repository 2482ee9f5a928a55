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


_BY_DIMENSION = {
    1: (nn.Conv1d, nn.MaxPool1d, nn.ConvTranspose1d),
    2: (nn.Conv2d, nn.MaxPool2d, nn.ConvTranspose2d),
    3: (nn.Conv3d, nn.MaxPool3d, nn.ConvTranspose3d),
}


def conv_dimension(conv_op: type[nn.Module]) -> int:
    """1, 2 or 3: the spatial dimension of a convolution class (a subclass counts as its base).

    Raises:
        ValueError: ``conv_op`` is not a torch convolution class.
    """
    for dimension, (conv, _, _) in _BY_DIMENSION.items():
        if isinstance(conv_op, type) and issubclass(conv_op, conv):
            return dimension
    raise ValueError(f"conv_op must be nn.Conv1d, nn.Conv2d or nn.Conv3d (or a subclass), got {conv_op!r}")


def max_pool_for(conv_op: type[nn.Module]) -> type[nn.Module]:
    """The max-pooling class of ``conv_op``'s dimension (``nn.Conv3d`` -> ``nn.MaxPool3d``)."""
    return _BY_DIMENSION[conv_dimension(conv_op)][1]


def transposed_conv_for(conv_op: type[nn.Module]) -> type[nn.Module]:
    """The transposed convolution of ``conv_op``'s dimension (``nn.Conv3d`` -> ``nn.ConvTranspose3d``)."""
    return _BY_DIMENSION[conv_dimension(conv_op)][2]
