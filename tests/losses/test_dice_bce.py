"""GeneralizedDiceBCELoss against values worked out by hand from Sudre et al. (2017) plus BCE.

Logits are chosen so that p is a simple fraction: sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4,
sigmoid(-ln 3) = 1/4. Constants: ln 2 = 0.6931471806, ln(4/3) = 0.2876820725, ln 4 = 1.3862943611.
GDL = 1 - 2 sum_l w_l I_l / sum_l w_l S_l with I_l = sum r_l p_l, S_l = sum (r_l + p_l), w_l = 1/(sum r_l)^2.
"""

from __future__ import annotations

import math

import pytest
import torch

from isla_nnunet.losses import GeneralizedDiceBCELoss

LN3 = math.log(3.0)


def volume(values) -> torch.Tensor:
    """Four voxels as one (1, 1, 2, 2) sample."""
    return torch.tensor(values, dtype=torch.float32).reshape(1, 1, 2, 2)


BALANCED = ([0.0, LN3, -LN3, 0.0], [1, 1, 0, 0])
WEIGHTED = ([LN3, LN3, -LN3, -LN3], [1, 0, 0, 0])

HAND_VALUES = [
    # p = [1/2, 3/4, 1/4, 1/2], y = [1, 1, 0, 0]: 2 lesion and 2 background voxels, w_les = w_bg = 1/4
    #   I_les = 1/2 + 3/4 = 1.25, I_bg = 3/4 + 1/2 = 1.25, S_les = 2 + 2 = 4, S_bg = 2 + 2 = 4
    #   GDL = 1 - 2*(1.25 + 1.25) / (4 + 4) = 1 - 0.625 = 0.375
    #   BCE = (ln 2 + ln(4/3) + ln(4/3) + ln 2) / 4 = 1.9616585062 / 4 = 0.4904146265
    #   total = 0.375 + 0.4904146265 = 0.8654146265
    pytest.param(*BALANCED, 0.8654146265, id="balanced"),
    # p = [3/4, 3/4, 1/4, 1/4], y = [1, 0, 0, 0]: w_les = 1/1^2 = 1, w_bg = 1/3^2 = 1/9
    #   I_les = 3/4, I_bg = 1/4 + 3/4 + 3/4 = 7/4, S_les = 1 + 2 = 3, S_bg = 3 + 2 = 5
    #   GDL = 1 - 2*(3/4 + 7/36) / (3 + 5/9) = 1 - (17/9) / (32/9) = 1 - 17/32 = 0.46875
    #     (unweighted soft Dice would give 1 - 2*(3/4 + 7/4) / 8 = 0.375)
    #   BCE = (ln(4/3) + ln 4 + ln(4/3) + ln(4/3)) / 4 = 2.2493405786 / 4 = 0.5623351446
    #   total = 0.46875 + 0.5623351446 = 1.0310851446
    pytest.param(*WEIGHTED, 1.0310851446, id="weighted"),
    # p = [1/2, 3/4, 1/4, 1/2], y = 0 everywhere: the empty lesion class takes w_bg = 1/16
    #   I_les = 0, I_bg = 1/2 + 1/4 + 3/4 + 1/2 = 2, S_les = 0 + 2 = 2, S_bg = 4 + 2 = 6
    #   GDL = 1 - 2*2 / (2 + 6) = 0.5 (= mean p)
    #   BCE = (ln 2 + ln 4 + ln(4/3) + ln 2) / 4 = 3.0602707948 / 4 = 0.7650676987
    #   total = 0.5 + 0.7650676987 = 1.2650676987
    pytest.param([0.0, LN3, -LN3, 0.0], [0, 0, 0, 0], 1.2650676987, id="empty-lesion"),
    # Mirror image: y = 1 everywhere, the empty background class takes w_les = 1/16
    #   I_les = 2, I_bg = 0, S_les = 4 + 2 = 6, S_bg = 0 + 2 = 2; GDL = 1 - 4/8 = 0.5 (= mean(1 - p))
    #   BCE = (ln 2 + ln(4/3) + ln 4 + ln 2) / 4 = 0.7650676987; total = 1.2650676987
    pytest.param([0.0, LN3, -LN3, 0.0], [1, 1, 1, 1], 1.2650676987, id="empty-background"),
]


@pytest.mark.parametrize("logits, target, expected", HAND_VALUES)
def test_matches_hand_computed_value(logits, target, expected):
    value = GeneralizedDiceBCELoss()(volume(logits), volume(target))
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(expected, abs=2e-6)


def test_batch_loss_is_mean_of_sample_losses():
    loss = GeneralizedDiceBCELoss()
    logits = torch.cat([volume(BALANCED[0]), volume(WEIGHTED[0])])
    target = torch.cat([volume(BALANCED[1]), volume(WEIGHTED[1])])
    per_sample = [loss(logits[i : i + 1], target[i : i + 1]).item() for i in range(2)]
    batch = loss(logits, target).item()
    assert batch == pytest.approx(sum(per_sample) / 2, abs=1e-7)
    # (0.8654146265 + 1.0310851446) / 2
    assert batch == pytest.approx(0.9482498856, abs=2e-6)


@pytest.mark.parametrize(
    "logits, target, message",
    [
        pytest.param(
            torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, 2), r"\(B, 1, \*spatial\)", id="two-channels"
        ),
        pytest.param(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 4), "differs from logits shape", id="shape"),
        pytest.param(torch.zeros(1, 1, 2, 2), volume([0, 1, 255, 0]), r"found \[255", id="label-255"),
        pytest.param(torch.zeros(1, 1, 2, 2), volume([0, -1, 1, 0]), r"found \[-1", id="label-minus-1"),
    ],
)
def test_rejects_bad_inputs(logits, target, message):
    with pytest.raises(ValueError, match=message):
        GeneralizedDiceBCELoss()(logits, target)
