"""BinaryFromTwoClassLogits: nnU-Net's (two-class logits, label map) call to the binary losses."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from isla_nnunet.losses import AsymmetricUnifiedFocalLoss, BinaryFromTwoClassLogits, GeneralizedDiceBCELoss

# p = sigmoid(z) = [1/2, 3/4, 1/4, 1/2], y = [1, 1, 0, 0]; hand values from test_unified_focal.py
# (case A: 0.3521038083) and test_dice_bce.py ("balanced": 0.8654146265).
Z = torch.tensor([0.0, math.log(3), -math.log(3), 0.0]).reshape(1, 1, 2, 2)
Y = torch.tensor([1.0, 1.0, 0.0, 0.0]).reshape(1, 1, 2, 2)


class Recorder(nn.Module):
    """Returns 0 and keeps what the adapter passed on."""

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self.logits, self.target = logits, target
        return logits.sum() * 0.0


@pytest.mark.parametrize(
    "inner, expected",
    [(AsymmetricUnifiedFocalLoss(), 0.3521038083), (GeneralizedDiceBCELoss(), 0.8654146265)],
    ids=["ufl", "gdl-bce"],
)
@pytest.mark.parametrize("offset", [0.0, 5.0, -3.0], ids=["isla-head", "shift+5", "shift-3"])
def test_two_class_logits_give_the_binary_hand_value(inner, expected, offset):
    # Any channel-0 logit c with channel 1 = c + z has softmax[1] = sigmoid(z).
    output = torch.cat([torch.full_like(Z, offset), Z + offset], dim=1)
    assert BinaryFromTwoClassLogits(inner)(output, Y).item() == pytest.approx(expected, abs=2e-6)


def test_one_channel_logits_pass_through():
    value = BinaryFromTwoClassLogits(AsymmetricUnifiedFocalLoss())(Z, Y)
    assert value.item() == pytest.approx(0.3521038083, abs=2e-6)


@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.float16, torch.int64, torch.int16, torch.uint8, torch.bool]
)
def test_target_dtypes_nnunet_may_deliver(dtype):
    recorder = Recorder()
    BinaryFromTwoClassLogits(recorder)(torch.cat([torch.zeros_like(Z), Z], dim=1), Y.to(dtype))
    assert recorder.target.dtype == torch.float32
    assert torch.equal(recorder.target, Y)


def test_passed_logit_is_the_softmax_equivalent_binary_logit():
    torch.manual_seed(0)
    output = torch.randn(2, 2, 3, 4, 5, dtype=torch.float64)
    target = torch.zeros(2, 1, 3, 4, 5)
    recorder = Recorder()
    BinaryFromTwoClassLogits(recorder)(output, target)
    assert recorder.logits.shape == (2, 1, 3, 4, 5)
    assert recorder.logits.dtype == torch.float32
    torch.testing.assert_close(
        torch.sigmoid(recorder.logits), torch.softmax(output, dim=1)[:, 1:].float(), atol=1e-6, rtol=1e-6
    )


def test_gradient_reaches_both_channels_with_opposite_signs():
    output = torch.cat([torch.zeros_like(Z), Z], dim=1).requires_grad_(True)
    BinaryFromTwoClassLogits(AsymmetricUnifiedFocalLoss())(output, Y).backward()
    assert torch.isfinite(output.grad).all()
    torch.testing.assert_close(output.grad[:, 0], -output.grad[:, 1])


@pytest.mark.parametrize(
    "output, target, message",
    [
        pytest.param(
            torch.zeros(1, 3, 2, 2), torch.zeros(1, 1, 2, 2), r"\(B, 2, \*spatial\)", id="three-channels"
        ),
        pytest.param(
            torch.zeros(1, 2, 2, 2),
            torch.zeros(1, 2, 2, 2),
            r"target must have shape \(1, 1, 2, 2\)",
            id="one-hot-target",
        ),
        pytest.param(
            torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2), "target must have shape", id="no-channel-axis"
        ),
        pytest.param(
            torch.zeros(1, 2, 2, 2), torch.zeros(1, 1, 2, 3), "target must have shape", id="spatial"
        ),
        pytest.param(torch.zeros(2, 2, 2, 2), torch.zeros(1, 1, 2, 2), "target must have shape", id="batch"),
        pytest.param(
            torch.zeros(1, 2, 2, 2),
            torch.tensor([0, 1, 2, 0]).reshape(1, 1, 2, 2),
            r"only the labels 0 and 1, found \[2\]",
            id="ignore-label-2",
        ),
        pytest.param(
            torch.zeros(1, 2, 2, 2),
            torch.tensor([0.0, 1.0, -1.0, 0.0]).reshape(1, 1, 2, 2),
            r"only the labels 0 and 1, found \[-1.0\]",
            id="ignore-label-minus-1",
        ),
    ],
)
def test_rejects_bad_inputs(output, target, message):
    with pytest.raises(ValueError, match=message):
        BinaryFromTwoClassLogits(Recorder())(output, target)
