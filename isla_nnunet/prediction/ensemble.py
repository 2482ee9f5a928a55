"""Combining the probability maps of several models into one lesion probability and one mask.

Two rules, both on the reference grid (before mapping back to the native scan):

- ``"mean"`` (ISLA-ENS, Roca et al., §3.3.2): average the members' probabilities, lesion where the
  mean is > 0.5. One model is the special case of an ensemble of one.
- ``"vote"`` (DeepISLES, de la Rosa et al.): each member's mask is its probability > 0.5; lesion where
  strictly more than half of the members say lesion (2 of 3). The probability written beside a voted
  mask is still the members' mean probability; the mask is the vote.

A member with its own post-processing (a Clèrigues model's threshold and minimum lesion size) gives
its own mask: it is that member's vote, and a single such model's mask. The mean rule thresholds the
mean probability at 0.5 whatever the members' own rules.

Example:
    >>> import numpy as np
    >>> p = [np.array([0.2, 0.9, 0.6]), np.array([0.4, 0.3, 0.6]), np.array([0.9, 0.8, 0.1])]
    >>> [round(float(v), 3) for v in mean_probability(p)], threshold(mean_probability(p)).tolist()
    ([0.5, 0.667, 0.433], [0, 1, 0])
    >>> majority_vote([threshold(q) for q in p]).tolist()
    [0, 1, 1]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from isla_nnunet.errors import ISLAError

THRESHOLD = 0.5
METHODS = ("mean", "vote")


def _stackable(arrays: Sequence[np.ndarray], what: str) -> list[np.ndarray]:
    arrays = [np.asarray(a) for a in arrays]
    if not arrays:
        raise ISLAError(f"no {what} to combine: give at least one model")
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ISLAError(f"{what} of different shapes {sorted(shapes)} cannot be combined: "
                        "predict on one grid")
    return arrays


def mean_probability(probabilities: Sequence[np.ndarray]) -> np.ndarray:
    """Voxel-wise mean of the members' probabilities (float32; accumulated in float64)."""
    arrays = _stackable(probabilities, "probability maps")
    total = np.zeros(arrays[0].shape, dtype=np.float64)
    for array in arrays:
        total += array
    return (total / len(arrays)).astype(np.float32)


def threshold(probability: np.ndarray) -> np.ndarray:
    """uint8 mask, 1 where ``probability`` > 0.5 (ISLA's rule)."""
    return (np.asarray(probability) > THRESHOLD).astype(np.uint8)


def majority_vote(masks: Sequence[np.ndarray]) -> np.ndarray:
    """uint8 mask, 1 where strictly more than half of the binary ``masks`` are 1."""
    arrays = _stackable(masks, "masks")
    votes = np.zeros(arrays[0].shape, dtype=np.int32)
    for mask in arrays:
        votes += np.asarray(mask, dtype=bool)
    return (2 * votes > len(arrays)).astype(np.uint8)


@dataclass
class Combined:
    """An ensemble's result on one grid: mean probability (float32) and mask (uint8).

    ``mask_from_probability`` says whether the mask is the mean probability > 0.5 (so that the native
    mask is best made from the mapped probability) or was decided otherwise (a vote, a member's own
    post-processing), so that the mask itself must be mapped.
    """

    probability: np.ndarray
    mask: np.ndarray
    method: str
    members: int
    mask_from_probability: bool = True


def combine(probabilities: Sequence[np.ndarray], method: str = "mean",
            member_masks: Sequence[np.ndarray | None] | None = None) -> Combined:
    """Combine member probabilities by ``method`` ("mean" or "vote").

    Args:
        probabilities: one probability map per member, all on one grid.
        method: "mean" or "vote".
        member_masks: per member, its own mask (post-processing) or None for probability > 0.5.

    Raises:
        ISLAError: unknown method, no member, members of different shapes, masks not one per member.

    Example:
        >>> own = np.array([0, 0, 1], np.uint8)  # a member whose own threshold is lower
        >>> combine([np.array([0.2, 0.9, 0.4])], member_masks=[own]).mask.tolist()
        [0, 0, 1]
    """
    if method not in METHODS:
        raise ISLAError(f"ensemble method {method!r} unknown: use {' or '.join(METHODS)}")
    member_masks = list(member_masks) if member_masks is not None else [None] * len(probabilities)
    if len(member_masks) != len(probabilities):
        raise ISLAError(f"{len(member_masks)} member masks for {len(probabilities)} members: give one per member")
    probability = mean_probability(probabilities)
    own = [threshold(p) if m is None else np.asarray(m, np.uint8) for p, m in zip(probabilities, member_masks,
                                                                                  strict=True)]
    if len(probabilities) == 1:
        by_probability = member_masks[0] is None and method == "mean"
        return Combined(probability, own[0], method, 1, by_probability)
    if method == "mean":
        return Combined(probability, threshold(probability), method, len(probabilities))
    return Combined(probability, majority_vote(own), method, len(probabilities), False)


def describe(method: str, members: int, own_rules: Sequence[str | None] = ()) -> dict:
    """The ensemble entry of a report: method ("single" for one model), rule in words, member count.

    ``own_rules`` names, per member, a post-processing rule of its own (None: probability > 0.5).

    Example:
        >>> describe("vote", 3)["rule"]
        'more than half of the member masks (probability > 0.5)'
        >>> describe("mean", 1, ["probability > 0.3, lesions of >= 20 voxels"])["rule"]
        'probability > 0.3, lesions of >= 20 voxels'
    """
    rules = [r or "probability > 0.5" for r in (list(own_rules) or [None] * members)]
    if members == 1:
        return {"method": "single", "rule": rules[0], "members": 1}
    if method == "mean":
        rule = "mean probability > 0.5"
    elif len(set(rules)) == 1:
        rule = f"more than half of the member masks ({rules[0]})"
    else:
        rule = "more than half of the member masks (" + "; ".join(rules) + ")"
    return {"method": method, "rule": rule, "members": members}
