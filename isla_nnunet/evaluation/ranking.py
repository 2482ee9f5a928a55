"""ISLES'22 case-level ranking of several models evaluated on the same cases (ISLA §3.3.1).

1. For each case and metric, rank the models (1 = best); tied values share the average of the ranks
   they span (values 0.8, 0.8, 0.5 of a higher-is-better metric rank 1.5, 1.5, 3), so the ranks of a
   case always sum to n(n+1)/2. ISLA's tables need this convention: in its Table 5 every metric's
   mean ranks over five models sum to 15.0, heavily tied ALD and F1 included. NaN (HD95 with an empty
   mask) ranks after every defined value; several NaN tie among themselves (sharing their average).
2. Average each metric's ranks over the cases.
3. Average those mean ranks over the metrics: the final mean rank, lower is better.

The table mirrors ISLA's Tables 3-5: model, mean rank, then per metric the median over cases with the
metric's mean rank in parentheses.

Example:
    >>> case_ranks([0.8, 0.8, 0.5], higher_is_better=True)
    [1.5, 1.5, 3.0]
    >>> case_ranks([2.0, float("nan"), 1.0, float("nan")], higher_is_better=False)
    [2.0, 3.5, 1.0, 3.5]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from isla_nnunet.errors import ISLAError
from isla_nnunet.evaluation.metrics import METRICS, RANKED_METRICS
from isla_nnunet.evaluation.summary import describe, text_table


def case_ranks(values: Sequence[float], higher_is_better: bool) -> list[float]:
    """Fractional ranks ("1, 2.5, 2.5, 4") of one case's values across models; NaN ranks last."""
    badness = np.array([math.inf if math.isnan(v) else (-v if higher_is_better else v) for v in values])
    # A tied group spans ranks (better + 1) ... (better + equal): its average.
    return [float(np.count_nonzero(badness < b) + (np.count_nonzero(badness == b) + 1) / 2) for b in badness]


@dataclass(frozen=True)
class ModelRank:
    """One model's row of the ranking table."""

    name: str
    mean_rank: float
    metric_mean_ranks: dict[str, float]
    metric_medians: dict[str, float]


@dataclass(frozen=True)
class Ranking:
    """Models ordered best first, with the metrics and number of cases they were ranked on."""

    models: list[ModelRank]
    metrics: tuple[str, ...]
    n_cases: int

    @property
    def best(self) -> ModelRank:
        return self.models[0]

    def format(self) -> str:
        """Plain-text table shaped like ISLA's Tables 3-5."""
        header = ["model", "mean rank", *(METRICS[m].label if m in METRICS else m for m in self.metrics)]
        body = [
            [model.name, f"{model.mean_rank:.2f}",
             *(f"{_median(m, model.metric_medians[m])} ({model.metric_mean_ranks[m]:.2f})"
               for m in self.metrics)]
            for model in self.models
        ]
        note = (f"{self.n_cases} cases. Mean rank = mean over metrics of the mean case-level rank (lower is "
                "better); metrics are medians with their mean ranks in parentheses.")
        return text_table([header, *body]) + "\n" + note


def _median(metric: str, value: float) -> str:
    if math.isnan(value):
        return "nan"
    # Lesion-count differences are integers; the papers print their medians without decimals.
    if metric == "ald" and float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}"


def rank_models(
    tables: Mapping[str, Mapping[str, Mapping[str, float]]],
    metrics: Sequence[str] = RANKED_METRICS,
) -> Ranking:
    """Case-level ranking of models from their per-case metrics.

    Args:
        tables: ``{model name: {case id: {metric: value}}}``; every model must have the same cases.
        metrics: metric names to rank on (known names in :data:`~isla_nnunet.evaluation.metrics.METRICS`).

    Returns:
        :class:`Ranking` with models sorted by mean rank (ties keep the input order).

    Raises:
        ISLAError: fewer than one model, unknown metric, different case sets, missing metric values.
    """
    if not tables:
        raise ISLAError("nothing to rank: give at least one model")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ISLAError(f"unknown metric(s) {', '.join(unknown)}: choose from {', '.join(METRICS)}")
    names = list(tables)
    cases = sorted(tables[names[0]])
    for name in names[1:]:
        if set(tables[name]) != set(cases):
            missing = sorted(set(cases) ^ set(tables[name]))
            raise ISLAError(f"models {names[0]} and {name} were evaluated on different cases "
                            f"(e.g. {missing[0]}): ranking needs the same cases for every model")
    if not cases:
        raise ISLAError("nothing to rank: the models have no cases")
    ranks = {name: {m: [] for m in metrics} for name in names}
    for case in cases:
        for metric in metrics:
            try:
                values = [float(tables[name][case][metric]) for name in names]
            except KeyError:
                raise ISLAError(f"case {case} lacks the metric {metric} for some model: "
                                "re-run the evaluation") from None
            for name, rank in zip(names, case_ranks(values, METRICS[metric].higher_is_better), strict=True):
                ranks[name][metric].append(rank)
    rows = []
    for name in names:
        metric_mean_ranks = {m: float(np.mean(ranks[name][m])) for m in metrics}
        rows.append(ModelRank(
            name=name,
            mean_rank=float(np.mean(list(metric_mean_ranks.values()))),
            metric_mean_ranks=metric_mean_ranks,
            metric_medians={m: describe(tables[name][c][m] for c in cases).median for m in metrics},
        ))
    rows.sort(key=lambda row: row.mean_rank)
    return Ranking(rows, tuple(metrics), len(cases))
