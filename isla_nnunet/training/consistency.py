"""Mean Teacher's consistency term and its sigmoid ramp-up (Roca et al., §3.2.6).

The student minimises L = L_sup + w(t) * L_cons (Tarvainen & Valpola, 2017):

* L_sup, the ISLA loss, on the labeled (source-domain) images of the batch only;
* L_cons, the mean squared difference between the student's and the teacher's probability maps,
  on the unlabeled (target-domain) images only (French et al., 2017, as adopted by Roca et al.);
* w(t) = w_max * exp(-5 * (1 - t / T)^2) for t < T and w_max afterwards, the sigmoid-shaped
  ramp-up of Laine & Aila (2017) used by Tarvainen & Valpola (2017) and Perone et al. (2019), with t
  the epoch, T = 60 epochs and w_max = 5 for ISLA-MT.

The probability maps are those of the foreground classes, softmax(logits)[:, 1:], at full
resolution (the final output; deep-supervision heads take no part). For ISLA's single lesion class
this is the lesion-probability map; the background channel would only repeat it (p0 = 1 - p1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

RAMPUP_EPOCHS = 60
CONSISTENCY_WEIGHT_MAX = 5.0


def sigmoid_rampup(epoch: float, rampup_epochs: float) -> float:
    """exp(-5 (1 - t/T)^2) for 0 <= t < T, 1 for t >= T (and for T = 0); t is clipped at 0.

    Example:
        >>> round(sigmoid_rampup(0, 60), 6), round(sigmoid_rampup(30, 60), 6), sigmoid_rampup(60, 60)
        (0.006738, 0.286505, 1.0)
    """
    if rampup_epochs <= 0 or epoch >= rampup_epochs:
        return 1.0
    phase = 1.0 - max(float(epoch), 0.0) / rampup_epochs
    return math.exp(-5.0 * phase * phase)


def consistency_weight(epoch: float, weight_max: float = CONSISTENCY_WEIGHT_MAX,
                       rampup_epochs: float = RAMPUP_EPOCHS) -> float:
    """w(t) = w_max * sigmoid_rampup(t, T)."""
    return weight_max * sigmoid_rampup(epoch, rampup_epochs)


def full_resolution(output: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """The final, full-resolution logits of a network output (the first item with deep supervision)."""
    return output[0] if isinstance(output, (list, tuple)) else output


def foreground_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """(B, C, *S) class logits -> (B, C - 1, *S) softmax probabilities of the foreground classes, float32."""
    if logits.shape[1] < 2:
        raise ValueError("expected class logits with >= 2 channels (background first), "
                         f"got shape {tuple(logits.shape)}")
    return torch.softmax(logits.float(), dim=1)[:, 1:]


def probability_mse(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Mean over all voxels and images of (p_student - p_teacher)^2; no gradient flows to the teacher.

    Args:
        student_logits, teacher_logits: (B, C, *S) class logits of the same images.

    Raises:
        ValueError: the shapes differ.
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student logits {tuple(student_logits.shape)} and teacher logits "
                         f"{tuple(teacher_logits.shape)} must have the same shape")
    difference = foreground_probabilities(student_logits) - foreground_probabilities(teacher_logits.detach())
    return difference.square().mean()


def _rows(output, rows: slice):
    return [o[rows] for o in output] if isinstance(output, (list, tuple)) else output[rows]


def mean_teacher_loss(student_output, n_labeled: int, target, teacher_logits: torch.Tensor,
                      supervised_loss: Callable, weight: float) -> tuple[torch.Tensor, ...]:
    """Split a student batch of labeled-then-unlabeled images into the two loss terms.

    Args:
        student_output: the student's output (B_l + B_u, C, *S), or a list of such outputs with deep
            supervision; the first ``n_labeled`` images are the labeled ones.
        n_labeled: B_l, number of labeled images at the front of the batch.
        target: the labels of the labeled images only (B_l, 1, *S), or a list of them.
        teacher_logits: the teacher's full-resolution logits of the unlabeled images (B_u, C, *S).
        supervised_loss: called as ``supervised_loss(output_of_labeled_images, target)``.
        weight: the consistency weight w(t).

    Returns:
        (total, supervised, consistency) with total = supervised + weight * consistency.
    """
    supervised = supervised_loss(_rows(student_output, slice(0, n_labeled)), target)
    consistency = probability_mse(full_resolution(student_output)[n_labeled:], teacher_logits)
    return supervised + weight * consistency, supervised, consistency
