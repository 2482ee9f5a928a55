"""Consistency weight ramp-up and the Mean Teacher loss split between labeled and unlabeled images."""

from __future__ import annotations

import math

import pytest
import torch

from isla_nnunet.training.consistency import (
    consistency_weight,
    foreground_probabilities,
    mean_teacher_loss,
    probability_mse,
    sigmoid_rampup,
)


@pytest.mark.parametrize(("t", "expected"), [(0, math.exp(-5)), (30, math.exp(-1.25)), (15, math.exp(-5 * 0.5625)),
                                             (60, 1.0), (61, 1.0), (300, 1.0)])
def test_rampup_values(t, expected):
    assert sigmoid_rampup(t, 60) == pytest.approx(expected, rel=1e-12)


def test_rampup_is_increasing_and_degenerate_lengths():
    values = [sigmoid_rampup(t, 60) for t in range(61)]
    assert all(a < b for a, b in zip(values[:-1], values[1:], strict=True))
    assert sigmoid_rampup(-3, 60) == sigmoid_rampup(0, 60)
    assert sigmoid_rampup(0, 0) == 1.0


def test_weight_scales_rampup():
    assert consistency_weight(30, 5.0, 60) == pytest.approx(5 * math.exp(-1.25))
    assert consistency_weight(100, 20.0, 60) == 20.0


def test_probability_mse_by_hand():
    # Two classes: softmax([0, z])[1] = sigmoid(z); logits 0 -> p = 0.5, log(3) -> p = 0.75.
    student = torch.zeros(1, 2, 1, 1, 2)
    teacher = torch.zeros(1, 2, 1, 1, 2)
    teacher[0, 1, 0, 0, 1] = math.log(3)
    # Voxel differences 0 and -0.25: mean of squares = 0.03125.
    assert probability_mse(student, teacher).item() == pytest.approx(0.03125)
    assert foreground_probabilities(teacher).shape == (1, 1, 1, 1, 2)


def test_no_gradient_reaches_teacher():
    student = torch.randn(2, 2, 3, requires_grad=True)
    teacher = torch.randn(2, 2, 3, requires_grad=True)
    probability_mse(student, teacher).backward()
    assert student.grad is not None and teacher.grad is None


class _RecordingLoss:
    """A supervised loss that records which images it was given: mean of the logits."""

    def __init__(self):
        self.seen = []

    def __call__(self, output, target):
        outputs = output if isinstance(output, list) else [output]
        self.seen.append([o.shape[0] for o in outputs])
        return sum(o.mean() for o in outputs) + 0 * target[0].float().mean()


def test_consistency_uses_only_unlabeled_images_and_supervision_only_labeled():
    # Labeled images (first 2) disagree wildly with the teacher; unlabeled ones differ by a known amount.
    labeled = torch.zeros(2, 2, 1, 1, 1)
    labeled[:, 1] = 50.0
    unlabeled = torch.zeros(3, 2, 1, 1, 1)
    output = torch.cat([labeled, unlabeled])
    deep = [output, output * 0.5]
    teacher = torch.zeros(3, 2, 1, 1, 1)
    teacher[:, 1] = math.log(3)  # p = 0.75 against the student's 0.5
    recorder = _RecordingLoss()
    target = [torch.zeros(2, 1, 1, 1, 1)] * 2
    total, supervised, consistency = mean_teacher_loss(deep, 2, target, teacher, recorder, weight=4.0)
    assert consistency.item() == pytest.approx(0.0625)
    assert recorder.seen == [[2, 2]]
    # Supervised term: mean over the labeled rows only (25 from the full output, 12.5 from the half).
    assert supervised.item() == pytest.approx(25.0 + 12.5)
    assert total.item() == pytest.approx(37.5 + 4 * 0.0625)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="same shape"):
        probability_mse(torch.zeros(2, 2, 3), torch.zeros(1, 2, 3))
