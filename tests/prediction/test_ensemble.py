"""Ensemble rules: ISLA-ENS mean probability and DeepISLES majority vote, on hand-made arrays."""

from __future__ import annotations

import numpy as np
import pytest

from isla_nnunet.errors import ISLAError
from isla_nnunet.prediction.ensemble import combine, majority_vote, mean_probability, threshold


def test_mean_probability_is_the_voxelwise_mean():
    a = np.array([[0.1, 0.7], [0.5, 1.0]], np.float32)
    b = np.array([[0.3, 0.2], [0.5, 0.0]], np.float32)
    c = np.array([[0.2, 0.9], [0.8, 0.5]], np.float32)
    expected = np.array([[0.2, 0.6], [0.6, 0.5]])
    np.testing.assert_allclose(mean_probability([a, b, c]), expected, atol=1e-7)
    assert mean_probability([a, b, c]).dtype == np.float32


def test_threshold_is_strictly_above_one_half():
    assert threshold(np.array([0.49, 0.5, 0.500001, 1.0])).tolist() == [0, 0, 1, 1]


def test_majority_vote_on_three_masks():
    # Voxel by voxel: votes 0, 1, 2, 3 and the mixed patterns; lesion needs at least 2 of 3.
    m1 = np.array([0, 1, 0, 0, 1, 1, 0, 1], np.uint8)
    m2 = np.array([0, 0, 1, 0, 1, 0, 1, 1], np.uint8)
    m3 = np.array([0, 0, 0, 1, 0, 1, 1, 1], np.uint8)
    assert majority_vote([m1, m2, m3]).tolist() == [0, 0, 0, 0, 1, 1, 1, 1]


def test_majority_vote_even_count_needs_more_than_half():
    m1 = np.array([1, 1, 0], np.uint8)
    m2 = np.array([1, 0, 0], np.uint8)
    assert majority_vote([m1, m2]).tolist() == [1, 0, 0]


def test_combine_mean_and_vote_differ_where_they_should():
    # Voxel 0: one confident member outvoted (mean 0.6 > 0.5, but 1 vote of 3).
    # Voxel 1: two members barely above 0.5 and one at 0 (mean 0.35, but 2 votes of 3).
    p = [np.array([0.98, 0.52]), np.array([0.41, 0.53]), np.array([0.41, 0.0])]
    mean = combine(p, "mean")
    vote = combine(p, "vote")
    assert mean.mask.tolist() == [1, 0]
    assert vote.mask.tolist() == [0, 1]
    np.testing.assert_allclose(vote.probability, mean.probability)
    assert (mean.members, vote.method) == (3, "vote")


def test_single_member_is_its_own_threshold():
    p = np.array([0.2, 0.51, 0.9], np.float32)
    for method in ("mean", "vote"):
        result = combine([p], method)
        assert result.mask.tolist() == [0, 1, 1]
        np.testing.assert_array_equal(result.probability, p)


@pytest.mark.parametrize("arrays, method, message", [
    ([], "mean", "no probability maps"),
    ([np.zeros(3), np.zeros(4)], "mean", "different shapes"),
    ([np.zeros(3)], "median", "unknown"),
])
def test_bad_combinations_are_one_line_errors(arrays, method, message):
    with pytest.raises(ISLAError, match=message) as info:
        combine(arrays, method)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("probabilities", "own", "method", "mask", "from_probability"), [
    # a single model with its own rule: its mask, mapped as a mask
    ([[0.2, 0.9, 0.4]], [[0, 0, 1]], "mean", [0, 0, 1], False),
    # a single model without one: p > 0.5, mapped through the probability
    ([[0.2, 0.9, 0.4]], [None], "mean", [0, 1, 0], True),
    # vote of three, the third member voting with its own (lower) threshold
    ([[0.6, 0.2, 0.2], [0.6, 0.6, 0.2], [0.4, 0.4, 0.4]], [None, None, [1, 1, 1]], "vote", [1, 1, 0], False),
    # the mean rule ignores the members' own rules
    ([[0.6, 0.2, 0.2], [0.6, 0.6, 0.2], [0.4, 0.4, 0.4]], [None, None, [1, 1, 1]], "mean", [1, 0, 0], True),
])
def test_members_own_masks(probabilities, own, method, mask, from_probability):
    arrays = [np.array(p) for p in probabilities]
    masks = [None if m is None else np.array(m, np.uint8) for m in own]
    combined = combine(arrays, method, masks)
    assert combined.mask.tolist() == mask and combined.mask_from_probability == from_probability


def test_member_masks_must_match_members():
    with pytest.raises(ISLAError, match="one per member"):
        combine([np.zeros(3), np.zeros(3)], "vote", [None])
