"""How a network runs on the CPU: bf16 autocast and channels-last memory, chosen once per process.

On a processor with native bf16 arithmetic (AVX512-BF16 or AMX), ``torch.autocast("cpu",
dtype=torch.bfloat16)`` runs the convolutions in bf16 and softmax and the losses in float32; GroupNorm,
which autocast would keep in float32, runs in bf16 on a contiguous copy with float32 statistics
(:mod:`.bf16_group_norm`, about 2x faster per layer); channels-last-3d memory lets oneDNN's
convolutions skip their layout conversions. Together they made an
ISLA-B training step about twice as fast as plain float32 on this project's 2-core development machine
(``scripts/benchmark_cpu_execution.py``, docs/benchmarks.md). Elsewhere (no bf16 instructions) bf16 is
emulated and slower, so ``auto`` falls back to float32 there.

The choice comes from the ``ISLA_CPU_PRECISION`` environment variable (``auto``, ``bf16`` or ``fp32``;
default ``auto``) because ``nnUNetv2_train`` and ``nnUNetv2_predict`` build the network without any
option of this project's; ``isla predict --precision`` overrides it for one run. CUDA is untouched:
nnU-Net's own float16 autocast applies there.

Example:
    >>> CPUExecution.from_setting("fp32")
    CPUExecution(autocast_dtype=None, channels_last=True, bf16_group_norm=True)
    >>> CPUExecution.from_setting("fast")
    Traceback (most recent call last):
    ...
    ValueError: ISLA_CPU_PRECISION must be one of auto, bf16, fp32; got 'fast'
"""

from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import dataclass

import torch

from isla_nnunet.networks.bf16_group_norm import use_bf16_group_norm
from isla_nnunet.precision import PRECISION_SETTINGS, PRECISION_VARIABLE


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether oneDNN can run bf16 convolutions natively on this processor (AVX512-BF16 or AMX)."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(torch.backends.mkldnn.is_available() and check is not None and check())


@dataclass(frozen=True)
class CPUExecution:
    """Autocast dtype (``None``: float32), memory format and, under bf16, GroupNorm in bf16 (``False``:
    autocast's float32 GroupNorm, for comparison) for a network's forward pass on the CPU."""

    autocast_dtype: torch.dtype | None = None
    channels_last: bool = False
    bf16_group_norm: bool = True

    @classmethod
    def from_setting(cls, setting: str | None = None) -> CPUExecution:
        """``auto`` (bf16 where native, else float32), ``bf16`` or ``fp32``; channels-last in every case.

        Raises:
            ValueError: an unknown setting.
        """
        setting = (setting or "auto").strip().lower()
        if setting not in PRECISION_SETTINGS:
            raise ValueError(f"{PRECISION_VARIABLE} must be one of {', '.join(PRECISION_SETTINGS)}; got {setting!r}")
        use_bf16 = setting == "bf16" or (setting == "auto" and cpu_has_native_bf16())
        return cls(torch.bfloat16 if use_bf16 else None, channels_last=True)

    @classmethod
    def from_environment(cls) -> CPUExecution:
        """The setting in ``ISLA_CPU_PRECISION`` (default ``auto``)."""
        return cls.from_setting(os.environ.get(PRECISION_VARIABLE))

    @property
    def name(self) -> str:
        precision = "bf16" if self.autocast_dtype == torch.bfloat16 else "fp32"
        return precision + ("+channels-last" if self.channels_last else "")

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last and x.device.type == "cpu" and x.ndim == 5:
            return x.contiguous(memory_format=torch.channels_last_3d)
        return x

    def context(self, x: torch.Tensor):
        """Autocast for a CPU tensor when asked for and not already active; otherwise nothing."""
        if self.autocast_dtype is None or x.device.type != "cpu" or torch.is_autocast_enabled("cpu"):
            return contextlib.nullcontext()
        return torch.autocast("cpu", dtype=self.autocast_dtype)

    def apply(self, network: torch.nn.Module) -> torch.nn.Module:
        """Store this setting on ``network`` (read by its forward), convert its weights' memory format and,
        under bf16, give it GroupNorm layers that run in bf16 (plain GroupNorm outside bf16 autocast)."""
        network.cpu_execution = self
        if self.autocast_dtype == torch.bfloat16 and self.bf16_group_norm:
            use_bf16_group_norm(network)
        # channels_last_3d exists for 5-D tensors only: a 2-D network keeps its layout.
        if self.channels_last and not any(p.dim() == 4 for p in network.parameters()):
            network.to(memory_format=torch.channels_last_3d)
        return network
