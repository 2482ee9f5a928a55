"""Summaries of per-case metrics: median and interquartile range, overall and per lesion-size stratum.

ISLA reports medians with quartiles (Tables 3-5, Figure 3) and stratifies the test set by ground-truth
lesion volume (§3.3.3.2): small < 5 ml, medium >= 5 and < 20 ml, large >= 20 ml. A case with an empty
ground truth (0 ml) falls in the small stratum. Quartiles use linear interpolation (numpy's default).
Undefined values (HD95 with exactly one empty mask, NaN) are left out of the statistics and counted in
``n_undefined``.

Example:
    >>> lesion_size_stratum(4.99), lesion_size_stratum(5.0), lesion_size_stratum(20.0)
    ('<5 ml', '5-20 ml', '>=20 ml')
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from isla_nnunet.evaluation.metrics import METRICS

ALL_CASES = "all"
STRATA: tuple[tuple[str, float, float], ...] = (
    ("<5 ml", 0.0, 5.0),
    ("5-20 ml", 5.0, 20.0),
    (">=20 ml", 20.0, math.inf),
)
GROUPS: tuple[str, ...] = (ALL_CASES, *(name for name, _, _ in STRATA))


def lesion_size_stratum(gt_volume_ml: float) -> str:
    """Name of the ISLA lesion-size stratum of a ground-truth volume in ml (lower bounds inclusive)."""
    for name, low, high in STRATA:
        if low <= gt_volume_ml < high:
            return name
    raise ValueError(f"lesion volume must be >= 0 ml, got {gt_volume_ml}")


@dataclass(frozen=True)
class Statistic:
    """Median and quartiles of one metric over one group of cases."""

    group: str
    metric: str
    n: int
    n_undefined: int
    median: float
    q1: float
    q3: float


def describe(values: Iterable[float], group: str = ALL_CASES, metric: str = "") -> Statistic:
    """Median, first and third quartile of the finite-or-infinite values; NaN values are counted apart.

    Example:
        >>> s = describe([1.0, 2.0, 3.0, 4.0, float("nan")])
        >>> s.median, s.q1, s.q3, s.n, s.n_undefined
        (2.5, 1.75, 3.25, 4, 1)
    """
    array = np.asarray(list(values), dtype=float)
    defined = array[~np.isnan(array)]
    if defined.size == 0:
        median = q1 = q3 = math.nan
    else:
        q1, median, q3 = (float(v) for v in np.percentile(defined, [25, 50, 75]))
    return Statistic(group, metric, int(defined.size), int(array.size - defined.size), median, q1, q3)


def summarize(rows: Sequence[Mapping[str, float]], metrics: Sequence[str] = tuple(METRICS),
              ) -> list[Statistic]:
    """Statistics of each metric over all cases and within each lesion-size stratum.

    Args:
        rows: per-case dicts holding the metric values and ``gt_volume_ml``.
        metrics: metric names to summarise.

    Returns:
        one :class:`Statistic` per (group, metric), groups in :data:`GROUPS` order (empty strata included,
        with n = 0 and NaN statistics).
    """
    members = {ALL_CASES: list(rows)}
    for name, _, _ in STRATA:
        members[name] = [r for r in rows if lesion_size_stratum(float(r["gt_volume_ml"])) == name]
    return [
        describe((float(r[metric]) for r in members[group]), group, metric)
        for group in GROUPS
        for metric in metrics
    ]


def _cell(stat: Statistic) -> str:
    if stat.n == 0:
        return "-"
    text = f"{stat.median:.3f} [{stat.q1:.3f}, {stat.q3:.3f}]"
    return text + (f" ({stat.n_undefined} undef.)" if stat.n_undefined else "")


def format_summary(stats: Sequence[Statistic]) -> str:
    """Plain-text table: one row per metric, one column per group, cells ``median [Q1, Q3]``."""
    groups = [g for g in GROUPS if any(s.group == g for s in stats)]
    metrics = list(dict.fromkeys(s.metric for s in stats))
    by_key = {(s.group, s.metric): s for s in stats}
    counts = {g: max(by_key[(g, m)].n + by_key[(g, m)].n_undefined for m in metrics) for g in groups}
    header = ["metric", *(f"{g} (n={counts[g]})" for g in groups)]
    body = [[METRICS[m].label if m in METRICS else m, *(_cell(by_key[(g, m)]) for g in groups)]
            for m in metrics]
    return text_table([header, *body])


def text_table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces.

    Example:
        >>> print(text_table([["a", "bb"], ["ccc", "d"]]))
        a    bb
        ccc  d
    """
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows)
