"""Optimizer steps that refuse a non-finite gradient instead of writing NaN into every weight.

On CUDA nnU-Net trains with a ``GradScaler``, which skips any step whose gradients hold inf or NaN. On
the CPU there is no scaler: one such gradient (an overflow in a network without normalisation layers,
a bad voxel in one patch) passes through gradient clipping (whose factor then becomes NaN) into the
optimizer, every weight turns NaN, and the rest of the run, its checkpoints and its predictions are
lost without an error. :class:`SkipsNonFiniteSteps` gives a torch optimizer the scaler's behaviour:
the step is skipped and counted, and the trainer reports the count in its log.

Example:
    >>> import torch
    >>> weight = torch.nn.Parameter(torch.ones(2))
    >>> optimizer = FiniteAdadelta([weight])
    >>> weight.grad = torch.tensor([float("nan"), 1.0])
    >>> optimizer.step(); weight.tolist(), optimizer.skipped_steps
    ([1.0, 1.0], 1)
    >>> weight.grad = torch.tensor([1.0, 1.0])
    >>> optimizer.step(); weight.detach().lt(1.0).all().item(), optimizer.skipped_steps
    (True, 1)
"""

from __future__ import annotations

import torch


def gradients_are_finite(optimizer: torch.optim.Optimizer) -> bool:
    """Whether every gradient of the optimizer's parameters is free of inf and NaN (no gradient: True)."""
    return all(bool(torch.isfinite(p.grad).all())
               for group in optimizer.param_groups for p in group["params"] if p.grad is not None)


class SkipsNonFiniteSteps:
    """Mixin for a torch optimizer: ``step`` leaves weights and state alone when a gradient is not
    finite, and counts it in ``skipped_steps`` (this process's count; checkpoints do not hold it).

    Put it first among the bases: ``class FiniteAdam(SkipsNonFiniteSteps, torch.optim.Adam)``.
    """

    skipped_steps: int = 0

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if not gradients_are_finite(self):
            self.skipped_steps += 1
            return loss
        super().step()
        return loss


class FiniteAdadelta(SkipsNonFiniteSteps, torch.optim.Adadelta):
    """``torch.optim.Adadelta`` that skips non-finite steps (Clèrigues et al.'s optimizer)."""
