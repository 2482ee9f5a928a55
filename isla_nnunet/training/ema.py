"""The Mean Teacher's teacher: an exponential moving average (EMA) of the student's weights.

After every optimiser step of the student (weights theta_t) the teacher (theta'_t) becomes

    theta'_t = a * theta'_{t-1} + (1 - a) * theta_t

(Tarvainen & Valpola, 2017, eq. 1; Roca et al., §3.2.6), with a = 0.99 during the 60-epoch
consistency ramp-up and 0.999 afterwards (Roca et al., §3.2.6, following Tarvainen & Valpola). The
teacher never receives gradients and runs in evaluation mode, so its dropout is off (Roca et al.
removed dropout from the teacher). ISLA's networks use GroupNorm, which has no running statistics;
any buffers a network does have are copied from the student rather than averaged.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

EMA_DECAY_DURING_RAMPUP = 0.99
EMA_DECAY_AFTER_RAMPUP = 0.999


def ema_decay(epoch: int, rampup_epochs: int, during: float = EMA_DECAY_DURING_RAMPUP,
              after: float = EMA_DECAY_AFTER_RAMPUP) -> float:
    """EMA decay of a step in ``epoch`` (0-based): ``during`` if ``epoch < rampup_epochs``, else ``after``.

    Example:
        >>> ema_decay(0, 60), ema_decay(59, 60), ema_decay(60, 60)
        (0.99, 0.99, 0.999)
    """
    return during if epoch < rampup_epochs else after


def make_teacher(student: nn.Module) -> nn.Module:
    """A copy of ``student`` in evaluation mode (dropout off) whose parameters require no gradient."""
    teacher = copy.deepcopy(student)
    teacher.eval()
    teacher.requires_grad_(False)
    return teacher


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, decay: float) -> None:
    """Move ``teacher``'s parameters in place to ``decay * teacher + (1 - decay) * student``.

    Both modules must have the same architecture (parameters matched by name). Floating-point
    buffers are copied from the student.

    Raises:
        ValueError: ``decay`` outside [0, 1], or parameter names that differ between the modules.
    """
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"EMA decay must lie in [0, 1], got {decay}")
    student_params = dict(student.named_parameters())
    teacher_params = dict(teacher.named_parameters())
    if student_params.keys() != teacher_params.keys():
        raise ValueError("teacher and student have different parameters: "
                         "build the teacher with make_teacher(student)")
    for name, value in teacher_params.items():
        value.mul_(decay).add_(student_params[name].detach(), alpha=1.0 - decay)
    student_buffers = dict(student.named_buffers())
    for name, buffer in teacher.named_buffers():
        if name in student_buffers:
            buffer.copy_(student_buffers[name])
