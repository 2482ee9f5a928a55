"""ISLADeepSupervisionLoss: ISLA's fixed weights (Roca et al. §3.2.3.3) in nnU-Net's output order."""

from __future__ import annotations

import math

import pytest
import torch
from nnunetv2.training.loss.deep_supervision import DeepSupervisionWrapper
from torch import nn

from isla_nnunet.losses import (
    ISLA_DEEP_SUPERVISION_WEIGHTS,
    AsymmetricUnifiedFocalLoss,
    BinaryFromTwoClassLogits,
    ISLADeepSupervisionLoss,
)

SHAPE = (1, 1, 2, 2)


def constant_outputs(values) -> list[torch.Tensor]:
    return [torch.full(SHAPE, float(v)) for v in values]


class RecordingL1(nn.Module):
    """Mean absolute error that remembers which outputs it was called on."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[float] = []

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self.seen.append(output.flatten()[0].item())
        return (output - target).abs().mean()


def test_weights_are_the_paper_tuple_final_output_first():
    # Paper order, bottleneck (i=1) to final output (i=6): (0.03, 0.045, 0.05, 0.125, 0.25, 0.5).
    assert ISLA_DEEP_SUPERVISION_WEIGHTS == (0.5, 0.25, 0.125, 0.05, 0.045, 0.03)
    assert sum(ISLA_DEEP_SUPERVISION_WEIGHTS) == pytest.approx(1.0)


@pytest.mark.parametrize("as_list", [False, True], ids=["one-target", "target-list"])
def test_six_outputs_give_hand_weighted_sum(as_list):
    # Output k (final first) is the constant k against a zero target, so L_k = k:
    #   0.5*1 + 0.25*2 + 0.125*3 + 0.05*4 + 0.045*5 + 0.03*6 = 0.5 + 0.5 + 0.375 + 0.2 + 0.225 + 0.18 = 1.98
    target = torch.zeros(SHAPE)
    targets = [target] * 6 if as_list else target
    value = ISLADeepSupervisionLoss(nn.L1Loss())(constant_outputs(range(1, 7)), targets)
    assert value.item() == pytest.approx(1.98, abs=1e-6)


def test_custom_weights_and_zero_weight_outputs_are_skipped():
    # weights (1, 0, 2) on outputs (1, 2, 3): 1*1 + 2*3 = 7; the weight-0 output is not evaluated.
    inner = RecordingL1()
    value = ISLADeepSupervisionLoss(inner, weights=(1.0, 0.0, 2.0))(
        constant_outputs([1, 2, 3]), torch.zeros(SHAPE)
    )
    assert value.item() == pytest.approx(7.0)
    assert inner.seen == [1.0, 3.0]


def test_composes_with_adapter_and_unified_focal_loss():
    # Six identical ISLA heads [0, z] with p = [1/2, 3/4, 1/4, 1/2], y = [1, 1, 0, 0]: every L_i is the
    # hand-computed UFL 0.3521038083 (tests/losses/test_unified_focal.py, case A) and the weights
    # sum to 1, so the total is 0.3521038083.
    z = torch.tensor([0.0, math.log(3), -math.log(3), 0.0]).reshape(SHAPE)
    head = torch.cat([torch.zeros_like(z), z], dim=1)
    target = torch.tensor([1.0, 1.0, 0.0, 0.0]).reshape(SHAPE)
    loss = ISLADeepSupervisionLoss(BinaryFromTwoClassLogits(AsymmetricUnifiedFocalLoss()))
    assert loss([head] * 6, target).item() == pytest.approx(0.3521038083, abs=2e-6)


def test_is_an_nnunet_deep_supervision_wrapper():
    loss = ISLADeepSupervisionLoss(nn.L1Loss())
    assert isinstance(loss, DeepSupervisionWrapper)
    assert loss.weight_factors == ISLA_DEEP_SUPERVISION_WEIGHTS


@pytest.mark.parametrize(
    "outputs, targets, message",
    [
        pytest.param(5, None, "got 5 outputs but 6 weights", id="five-outputs"),
        pytest.param(7, None, "got 7 outputs but 6 weights", id="seven-outputs"),
        pytest.param(6, 5, "got 6 outputs but 5 targets", id="five-targets"),
    ],
)
def test_mismatched_list_lengths_raise(outputs, targets, message):
    target = torch.zeros(SHAPE) if targets is None else [torch.zeros(SHAPE)] * targets
    with pytest.raises(ValueError, match=message):
        ISLADeepSupervisionLoss(nn.L1Loss())(constant_outputs(range(outputs)), target)


def test_single_tensor_output_raises():
    with pytest.raises(ValueError, match="outputs must be a list or tuple"):
        ISLADeepSupervisionLoss(nn.L1Loss())(torch.zeros(SHAPE), torch.zeros(SHAPE))


@pytest.mark.parametrize(
    "weights, message",
    [
        pytest.param((), "got none", id="empty"),
        pytest.param((0.5, -0.1), "finite and >= 0", id="negative"),
        pytest.param((0.5, math.nan), "finite and >= 0", id="nan"),
        pytest.param((0.0, 0.0), "at least one weight must be positive", id="all-zero"),
    ],
)
def test_bad_weights_raise(weights, message):
    with pytest.raises(ValueError, match=message):
        ISLADeepSupervisionLoss(nn.L1Loss(), weights=weights)
