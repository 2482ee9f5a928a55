"""ISLA deep supervision: a fixed weighted sum of the losses of all network outputs.

ISLA (Roca et al., §3.2.3.3) supervises the bottleneck and each of the five decoder stages: a 1x1x1
convolution to one channel, trilinear upsampling to the full image size, and a loss against the
full-resolution ground truth, combined as L = sum_i w_i L_i with w = (0.03, 0.045, 0.05, 0.125, 0.25,
0.5) from the bottleneck (i = 1) to the final output (i = 6), following Gómez et al. (2023).

nnU-Net lists network outputs the other way round, highest resolution (the final output) first, so
:data:`ISLA_DEEP_SUPERVISION_WEIGHTS` is stored final-first. The weights already sum to 1, the
normalisation nnU-Net applies to its own deep-supervision weights.

Unlike nnU-Net's deep supervision, every output here is already at full resolution, so one target
serves all outputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from nnunetv2.training.loss.deep_supervision import DeepSupervisionWrapper
from torch import nn

# nnU-Net order: final output first, bottleneck last (the paper's tuple reversed).
ISLA_DEEP_SUPERVISION_WEIGHTS: tuple[float, ...] = (0.5, 0.25, 0.125, 0.05, 0.045, 0.03)


class ISLADeepSupervisionLoss(DeepSupervisionWrapper):
    """Weighted sum of one loss over several full-resolution outputs (ISLA deep supervision).

    A :class:`nnunetv2.training.loss.deep_supervision.DeepSupervisionWrapper` (so nnU-Net code that
    inspects ``weight_factors`` keeps working) with argument checks and a shared target.

    Args:
        loss: the per-output loss, called as ``loss(output_i, target_i)``; for ISLA usually a
            :class:`~isla_nnunet.losses.nnunet_adapter.BinaryFromTwoClassLogits`.
        weights: one non-negative finite weight per output, in nnU-Net order (final output first);
            at least one must be positive. Default :data:`ISLA_DEEP_SUPERVISION_WEIGHTS`. Outputs
            with weight 0 are skipped, not evaluated.

    Call:
        ``loss(outputs, targets)``: ``outputs`` a list or tuple of ``len(weights)`` tensors,
        ``targets`` either one tensor used for every output or a list or tuple of the same length.
        Returns ``sum_i weights[i] * loss(outputs[i], targets[i])``.

    Raises:
        ValueError: empty, negative, non-finite or all-zero weights; ``outputs`` not a list or
            tuple; the number of outputs differs from the number of weights or of targets.

    Example:
        >>> import torch
        >>> ds = ISLADeepSupervisionLoss(torch.nn.L1Loss())
        >>> outputs = [torch.full((1, 1, 2, 2), float(k)) for k in range(1, 7)]
        >>> round(ds(outputs, torch.zeros(1, 1, 2, 2)).item(), 4)  # 0.5*1 + 0.25*2 + ... + 0.03*6
        1.98
    """

    def __init__(self, loss: nn.Module, weights: Sequence[float] = ISLA_DEEP_SUPERVISION_WEIGHTS) -> None:
        weights = tuple(float(w) for w in weights)
        if not weights:
            raise ValueError("ISLADeepSupervisionLoss: weights must name one weight per output, got none")
        if any(not math.isfinite(w) or w < 0 for w in weights):
            raise ValueError(f"ISLADeepSupervisionLoss: weights must be finite and >= 0, got {weights}")
        if not any(w > 0 for w in weights):
            raise ValueError(f"ISLADeepSupervisionLoss: at least one weight must be positive, got {weights}")
        super().__init__(loss, weights)

    def forward(
        self, outputs: Sequence[torch.Tensor], targets: torch.Tensor | Sequence[torch.Tensor]
    ) -> torch.Tensor:
        if not isinstance(outputs, (list, tuple)):
            raise ValueError(
                "ISLADeepSupervisionLoss: outputs must be a list or tuple of network outputs (final first), "
                f"got {type(outputs).__name__}; is deep supervision disabled in the network?"
            )
        if len(outputs) != len(self.weight_factors):
            raise ValueError(
                f"ISLADeepSupervisionLoss: got {len(outputs)} outputs but {len(self.weight_factors)} weights"
            )
        if isinstance(targets, torch.Tensor):
            targets = [targets] * len(outputs)
        elif len(targets) != len(outputs):
            raise ValueError(
                f"ISLADeepSupervisionLoss: got {len(outputs)} outputs but {len(targets)} targets"
            )
        return super().forward(list(outputs), list(targets))
