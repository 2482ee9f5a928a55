"""BinaryFocalLoss against values worked out by hand from Lin et al. (2017), eq. 1 of Clèrigues et al.

Logits are chosen so that p is a simple fraction: sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4,
sigmoid(-ln 3) = 1/4. Constants: ln 2 = 0.6931471806, ln(4/3) = 0.2876820725, ln 4 = 1.3862943611.
Per voxel: y = 1 gives -0.75 (1 - p)^2 ln p, y = 0 gives -0.25 p^2 ln(1 - p); the loss is the mean.
"""

from __future__ import annotations

import math

import pytest
import torch

from isla_nnunet.losses import BinaryFocalLoss, BinaryFromTwoClassLogits

LN3 = math.log(3.0)


def pair(values) -> torch.Tensor:
    """Two voxels as one (1, 1, 2) sample."""
    return torch.tensor(values, dtype=torch.float32).reshape(1, 1, 2)


HAND_VALUES = [
    # p = 3/4, 1/4, both lesion: (0.75 (1/4)^2 ln(4/3) + 0.75 (3/4)^2 ln 4) / 2
    #   = (0.0134850971 + 0.5848429336) / 2 = 0.2991640154
    pytest.param([LN3, -LN3], [1, 1], {}, 0.2991640154, id="lesion"),
    # p = 1/4, 3/4, both healthy: the mirror image with 0.25 instead of 0.75
    #   = (0.25 (1/4)^2 ln(4/3) + 0.25 (3/4)^2 ln 4) / 2 = 0.0997213385
    pytest.param([-LN3, LN3], [0, 0], {}, 0.0997213385, id="healthy"),
    # Both voxels right with p_t = 3/4: (0.75 + 0.25) (1/4)^2 ln(4/3) / 2 = 0.0089900648
    pytest.param([LN3, -LN3], [1, 0], {}, 0.0089900648, id="confident-right"),
    # p = 1/2 everywhere: (0.75 + 0.25) (1/2)^2 ln 2 / 2 = 0.0866433976
    pytest.param([0.0, 0.0], [1, 0], {}, 0.0866433976, id="undecided"),
    # gamma 0 and weights 1 is the binary cross-entropy: (ln(4/3) + ln 4) / 2 = 0.8369882168
    pytest.param([LN3, -LN3], [1, 1], {"alpha_healthy": 1.0, "alpha_lesion": 1.0, "gamma": 0.0},
                 0.8369882168, id="bce"),
]


@pytest.mark.parametrize("logits, target, kwargs, expected", HAND_VALUES)
def test_matches_hand_computed_value(logits, target, kwargs, expected):
    value = BinaryFocalLoss(**kwargs)(pair(logits), pair(target))
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(expected, abs=2e-7)


def test_equals_binary_cross_entropy_without_focusing_or_weights():
    torch.manual_seed(0)
    logits, target = torch.randn(2, 1, 3, 4, 5), (torch.rand(2, 1, 3, 4, 5) > 0.7).float()
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
    assert BinaryFocalLoss(1.0, 1.0, 0.0)(logits, target).item() == pytest.approx(expected.item(), rel=1e-6)


def test_confident_logits_stay_finite_and_fall_towards_zero():
    loss = BinaryFocalLoss()
    values = [loss(pair([z, -z]), pair([1, 0])).item() for z in (2.0, 10.0, 100.0)]
    assert values[0] > values[1] > values[2] >= 0 and math.isfinite(values[2])
    # A confident wrong answer: 0.75 ln(1 + e^100) ~ 75 for the lesion voxel, and 25 for the healthy one.
    assert loss(pair([-100.0, 100.0]), pair([1, 0])).item() == pytest.approx((75 + 25) / 2, rel=1e-4)


def test_gradient_pushes_towards_the_label():
    logits = pair([0.0, 0.0]).requires_grad_()
    BinaryFocalLoss()(logits, pair([1, 0])).backward()
    assert logits.grad[0, 0, 0] < 0 < logits.grad[0, 0, 1]


def test_two_class_logits_through_the_nnunet_adapter():
    z = pair([LN3, -LN3])
    output = torch.cat([torch.zeros_like(z), z], dim=1)
    value = BinaryFromTwoClassLogits(BinaryFocalLoss())(output, pair([1, 1]))
    assert value.item() == pytest.approx(0.2991640154, abs=2e-7)


def test_bf16_autocast_still_computes_in_float32():
    logits = pair([LN3, -LN3])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = BinaryFocalLoss()(logits, pair([1, 1]))
    assert value.dtype == torch.float32 and value.item() == pytest.approx(0.2991640154, abs=2e-7)


@pytest.mark.parametrize("kwargs", [{"alpha_healthy": -0.1}, {"alpha_lesion": -1.0}, {"gamma": -2.0},
                                    {"gamma": float("nan")}])
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(ValueError, match="must be >= 0"):
        BinaryFocalLoss(**kwargs)


@pytest.mark.parametrize("logits, target, match", [
    (torch.zeros(1, 2, 4), torch.zeros(1, 2, 4), "shape \\(B, 1"),
    (torch.zeros(1, 1, 4, dtype=torch.long), torch.zeros(1, 1, 4), "floating-point"),
    (torch.zeros(1, 1, 4), torch.zeros(1, 1, 5), "differs"),
    (torch.zeros(1, 1, 2), torch.tensor([[[0.0, -1.0]]]), "only the labels 0 and 1"),
])
def test_bad_inputs_are_refused(logits, target, match):
    with pytest.raises(ValueError, match=match):
        BinaryFocalLoss()(logits, target)
