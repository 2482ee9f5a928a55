"""Combining the probability maps of several models into one lesion probability and one mask.

Two rules, both on the reference grid (before mapping back to the native scan):

- ``"mean"`` (ISLA-ENS, Roca et al., §3.3.2): average the members' probabilities, lesion where the
  mean is > 0.5. One model is the special case of an ensemble of one.
- ``"vote"`` (DeepISLES, de la Rosa et al.): each member's mask is its probability > 0.5; lesion where
  strictly more than half of the members say lesion (2 of 3). The probability written beside a voted
  mask is still the members' mean probability; the mask is the vote.

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
    """An ensemble's result on one grid: mean probability (float32) and mask (uint8)."""

    probability: np.ndarray
    mask: np.ndarray
    method: str
    members: int


def combine(probabilities: Sequence[np.ndarray], method: str = "mean") -> Combined:
    """Combine member probabilities by ``method`` ("mean" or "vote").

    Raises:
        ISLAError: unknown method, no member, or members of different shapes.
    """
    if method not in METHODS:
        raise ISLAError(f"ensemble method {method!r} unknown: use {' or '.join(METHODS)}")
    probability = mean_probability(probabilities)
    if method == "mean":
        mask = threshold(probability)
    else:
        mask = majority_vote([threshold(p) for p in probabilities])
    return Combined(probability, mask, method, len(probabilities))


def describe(method: str, members: int) -> dict:
    """The ensemble entry of a report: method ("single" for one model), rule in words, member count.

    Example:
        >>> describe("vote", 3)["rule"]
        'more than half of the member masks (probability > 0.5)'
    """
    if members == 1:
        return {"method": "single", "rule": "probability > 0.5", "members": 1}
    rule = ("mean probability > 0.5" if method == "mean"
            else "more than half of the member masks (probability > 0.5)")
    return {"method": method, "rule": rule, "members": members}
