"""GroupNorm computed in bf16 on a contiguous tensor: the fast CPU path under bf16 autocast.

torch's CPU autocast keeps ``group_norm`` in float32: every GroupNorm of a bf16 network first widens
its input to float32 and writes a float32 output, and on the channels-last tensors of a channels-last
network torch's kernel is slower still. ISLA-B's top level (2 x 8 x 32 x 224 x 192), forward plus
backward, 2 threads, on this project's AVX512-BF16 machine: 291 ms under autocast, 125 ms in bf16 on a
contiguous copy (``scripts/benchmark_cpu_execution.py`` times the whole training step both ways).
torch's bf16 GroupNorm kernel accumulates the mean and variance in float32 and keeps float32 weights
and bias, so only the normalised output is rounded to bf16, as a bf16 convolution's output is.

:class:`BF16GroupNorm` takes that path only on a CPU tensor while a bf16 autocast is active (the
network's own, :class:`~isla_nnunet.networks.cpu_execution.CPUExecution`), and is plain
``nn.GroupNorm`` otherwise (float32, CUDA, the meta device). Its output keeps the input's memory
format, so a channels-last network's next convolution does not convert it. Parameters and
``state_dict`` keys are GroupNorm's: checkpoints load either way.

Example:
    >>> import torch
    >>> norm = BF16GroupNorm(2, 4).eval()
    >>> x = torch.randn(1, 4, 2, 3, 3)
    >>> with torch.autocast("cpu", dtype=torch.bfloat16):
    ...     fast = norm(x)
    >>> fast.dtype, bool((fast.float() - torch.nn.functional.group_norm(x, 2)).abs().max() < 0.02)
    (torch.bfloat16, True)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def bf16_autocast_active(x: torch.Tensor) -> bool:
    """Whether ``x`` is a CPU tensor inside an active bf16 CPU autocast."""
    return (x.device.type == "cpu" and torch.is_autocast_enabled("cpu")
            and torch.get_autocast_dtype("cpu") == torch.bfloat16)


class BF16GroupNorm(nn.GroupNorm):
    """``nn.GroupNorm`` that runs in bf16 on a contiguous copy under a CPU bf16 autocast (module docs)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not bf16_autocast_active(x):
            return super().forward(x)
        with torch.autocast("cpu", enabled=False):
            y = F.group_norm(x.to(torch.bfloat16).contiguous(), self.num_groups, self.weight, self.bias, self.eps)
        if x.dim() == 5 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last_3d):
            return y.contiguous(memory_format=torch.channels_last_3d)
        return y


def use_bf16_group_norm(network: nn.Module) -> nn.Module:
    """Replace every plain ``nn.GroupNorm`` in ``network`` by a :class:`BF16GroupNorm` that holds the same
    parameter objects (an optimizer built before still updates them); returns ``network``.

    Example:
        >>> net = use_bf16_group_norm(nn.Sequential(nn.Conv3d(1, 4, 1), nn.GroupNorm(2, 4)))
        >>> type(net[1]).__name__, list(net.state_dict())
        ('BF16GroupNorm', ['0.weight', '0.bias', '1.weight', '1.bias'])
    """
    for parent in list(network.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.GroupNorm:
                replacement = BF16GroupNorm(child.num_groups, child.num_channels, child.eps, child.affine)
                replacement.weight, replacement.bias = child.weight, child.bias
                replacement.train(child.training)
                setattr(parent, name, replacement)
    return network
