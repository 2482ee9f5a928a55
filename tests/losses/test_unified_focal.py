"""AsymmetricUnifiedFocalLoss against values worked out by hand from Yeung et al. (2022).

Logits are chosen so that p is a simple fraction: sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4,
sigmoid(-ln 3) = 1/4. Constants used in the comments: ln 2 = 0.6931471806, ln(4/3) = 0.2876820725,
ln 4 = 1.3862943611, sqrt(1/2) = 0.7071067812, sqrt(3/4) = 0.8660254038.
"""

from __future__ import annotations

import math

import pytest
import torch

from isla_nnunet.losses import AsymmetricUnifiedFocalLoss

LN3 = math.log(3.0)


def volume(values) -> torch.Tensor:
    """Four voxels as one (1, 1, 2, 2) sample."""
    return torch.tensor(values, dtype=torch.float32).reshape(1, 1, 2, 2)


# Case A: p = [1/2, 3/4, 1/4, 1/2], y = [1, 1, 0, 0]
#   TP = 1/2 + 3/4 = 1.25, FN = 1/2 + 1/4 = 0.75, FP = 1/4 + 1/2 = 0.75, TN = 3/4 + 1/2 = 1.25
CASE_A = ([0.0, LN3, -LN3, 0.0], [1, 1, 0, 0])
# Case B: p = [3/4, 3/4, 1/4, 1/4], y = [1, 0, 0, 0]
#   TP = 0.75, FN = 0.25, FP = 3/4 + 1/4 + 1/4 = 1.25, TN = 1/4 + 3/4 + 3/4 = 1.75
CASE_B = ([LN3, LN3, -LN3, -LN3], [1, 0, 0, 0])

HAND_VALUES = [
    # Case A, lambda 0.5, delta 0.6, gamma 0.5:
    #   1-mTI_fg = (0.6*0.75 + 0.4*0.75) / (1.25 + 0.75) = 0.375
    #   1-mTI_bg = (0.6*FP + 0.4*FN) / (TN + 0.75) = 0.375
    #   aFTL = (0.375 + sqrt(0.375)) / 2 = (0.375 + 0.6123724357) / 2 = 0.4936862178
    #   aFL voxels: y=1,p=1/2: 0.6*ln 2 = 0.4158883083; y=1,p=3/4: 0.6*ln(4/3) = 0.1726092435;
    #     y=0,p=1/4: 0.4*sqrt(1/4)*ln(4/3) = 0.0575364145; y=0,p=1/2: 0.4*sqrt(1/2)*ln 2 = 0.1960516287
    #   aFL = 0.8420855950 / 4 = 0.2105213988
    #   UFL = 0.5*0.2105213988 + 0.5*0.4936862178 = 0.3521038083
    pytest.param(CASE_A, 0.5, 0.6, 0.5, 0.3521038083, id="A-isla"),
    # Case B, lambda 0.5, delta 0.6, gamma 0.5:
    #   1-mTI_fg = (0.6*0.25 + 0.4*1.25) / (0.75 + 0.65) = 0.65 / 1.4 = 0.4642857143
    #     (the beta=delta port would give (0.4*0.25 + 0.6*1.25) / 1.6 = 0.53125)
    #   1-mTI_bg = (0.6*1.25 + 0.4*0.25) / (1.75 + 0.85) = 0.85 / 2.6 = 0.3269230769
    #   aFTL = (0.3269230769 + sqrt(0.4642857143)) / 2 = (0.3269230769 + 0.6813851438) / 2 = 0.5041541104
    #   aFL voxels: y=1,p=3/4: 0.6*ln(4/3) = 0.1726092435; y=0,p=3/4: 0.4*sqrt(3/4)*ln 4 = 0.4802264535;
    #     two y=0,p=1/4: 2 * 0.4*sqrt(1/4)*ln(4/3) = 0.1150728290
    #   aFL = 0.7679085260 / 4 = 0.1919771315
    #   UFL = 0.5*0.1919771315 + 0.5*0.5041541104 = 0.3480656209
    pytest.param(CASE_B, 0.5, 0.6, 0.5, 0.3480656209, id="B-isla"),
    # Case B, lambda 1: aFL alone = 0.1919771315 (above)
    pytest.param(CASE_B, 1.0, 0.6, 0.5, 0.1919771315, id="B-focal-only"),
    # Case B, lambda 0: aFTL alone = 0.5041541104 (above)
    pytest.param(CASE_B, 0.0, 0.6, 0.5, 0.5041541104, id="B-tversky-only"),
    # Case A, lambda 0.5, delta 0.5, gamma 0 (Dice and weighted BCE):
    #   1-mTI_fg = 1-mTI_bg = (0.5*0.75 + 0.5*0.75) / 2 = 0.375; aFTL = (0.375 + 0.375) / 2 = 0.375
    #   aFL = 0.5 * (ln 2 + ln(4/3) + ln(4/3) + ln 2) / 4 = 0.5 * 1.9616585062 / 4 = 0.2452073133
    #   UFL = 0.5*0.2452073133 + 0.5*0.375 = 0.3101036566
    pytest.param(CASE_A, 0.5, 0.5, 0.0, 0.3101036566, id="A-dice-bce-limit"),
]


@pytest.mark.parametrize("case, weight, delta, gamma, expected", HAND_VALUES)
def test_matches_hand_computed_value(case, weight, delta, gamma, expected):
    logits, target = case
    loss = AsymmetricUnifiedFocalLoss(weight=weight, delta=delta, gamma=gamma)
    value = loss(volume(logits), volume(target))
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(expected, abs=2e-6)


def test_spatial_rank_does_not_matter():
    logits, target = CASE_A
    value = AsymmetricUnifiedFocalLoss()(
        volume(logits).reshape(1, 1, 1, 2, 2), volume(target).reshape(1, 1, 1, 2, 2)
    )
    assert value.item() == pytest.approx(0.3521038083, abs=2e-6)


@pytest.mark.parametrize("dtype", [torch.int64, torch.uint8, torch.bool, torch.float16])
def test_target_dtype_does_not_matter(dtype):
    logits, target = CASE_B
    value = AsymmetricUnifiedFocalLoss()(volume(logits), volume(target).to(dtype))
    assert value.item() == pytest.approx(0.3480656209, abs=2e-6)


def test_batch_loss_is_mean_of_sample_losses():
    loss = AsymmetricUnifiedFocalLoss()
    logits = torch.cat([volume(CASE_A[0]), volume(CASE_B[0])])
    target = torch.cat([volume(CASE_A[1]), volume(CASE_B[1])])
    per_sample = [loss(logits[i : i + 1], target[i : i + 1]) for i in range(2)]
    batch = loss(logits, target)
    assert batch.item() == pytest.approx((per_sample[0].item() + per_sample[1].item()) / 2, abs=1e-7)
    # (0.3521038083 + 0.3480656209) / 2: pooling TP/FN/FP over the batch would give another value.
    assert batch.item() == pytest.approx(0.3500847146, abs=2e-6)


def test_false_negatives_cost_more_than_false_positives():
    # y = [1, 1, 0, 0]; p = 1/4 everywhere misses lesion mass 1.5, p = 3/4 everywhere adds the same
    # mass of false positives. delta = 0.6 > 0.5 must rank the misses as worse.
    target = volume([1, 1, 0, 0])
    loss = AsymmetricUnifiedFocalLoss()
    misses = loss(volume([-LN3] * 4), target)
    false_alarms = loss(volume([LN3] * 4), target)
    assert misses.item() > false_alarms.item()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"delta": 1.5}, "delta must lie in the open interval"),
        ({"delta": 0.0}, "delta must lie in the open interval"),
        ({"delta": 1.0}, "delta must lie in the open interval"),
        ({"gamma": 1.0}, r"gamma must lie in \[0, 1\)"),
        ({"gamma": -0.1}, r"gamma must lie in \[0, 1\)"),
        ({"weight": 1.2}, r"weight \(lambda\) must lie in \[0, 1\]"),
    ],
)
def test_rejects_bad_hyper_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AsymmetricUnifiedFocalLoss(**kwargs)


@pytest.mark.parametrize(
    "logits, target, message",
    [
        pytest.param(
            torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, 2), r"\(B, 1, \*spatial\)", id="two-channels"
        ),
        pytest.param(torch.zeros(1, 4), torch.zeros(1, 4), r"\(B, 1, \*spatial\)", id="no-spatial-axis"),
        pytest.param(
            torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 3), "differs from logits shape", id="shape"
        ),
        pytest.param(
            torch.zeros(1, 1, 2, 2), torch.zeros(2, 2), "differs from logits shape", id="no-channel"
        ),
        pytest.param(
            torch.zeros(1, 1, 2, 2), volume([0, 1, 2, 0]), r"only the labels 0 and 1, found \[2", id="label-2"
        ),
        pytest.param(torch.zeros(1, 1, 2, 2), volume([0, 0.5, 1, 0]), "only the labels 0 and 1", id="soft"),
        pytest.param(
            torch.zeros(1, 1, 2, 2), volume([0, math.nan, 1, 0]), "only the labels 0 and 1", id="nan"
        ),
        pytest.param(
            torch.zeros(1, 1, 2, 2, dtype=torch.int64), torch.zeros(1, 1, 2, 2), "floating-point", id="int"
        ),
    ],
)
def test_rejects_bad_inputs(logits, target, message):
    with pytest.raises(ValueError, match=message):
        AsymmetricUnifiedFocalLoss()(logits, target)
