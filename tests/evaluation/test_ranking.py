"""ISLES'22 case-level ranking against a worked example."""

from __future__ import annotations

import math

import numpy as np
import pytest

from isla_nnunet.errors import ISLAError
from isla_nnunet.evaluation.ranking import case_ranks, rank_models

NAN = math.nan


@pytest.mark.parametrize(
    "values, higher_is_better, expected",
    [
        ([0.8, 0.8, 0.5], True, [1.5, 1.5, 3]),  # ties share the average of ranks 1 and 2
        ([0.5, 0.8, 0.8], True, [3, 1.5, 1.5]),
        ([1.0, 1.0, 1.0], False, [2, 2, 2]),
        ([3.0, 1.0, 2.0, 1.0], False, [4, 1.5, 3, 1.5]),
        ([0.2, 0.2, 0.2, 0.9, 0.1], True, [3, 3, 3, 1, 5]),  # ranks 2, 3, 4 averaged
        ([2.0, NAN, 1.0], False, [2, 3, 1]),  # NaN ranks last
        ([NAN, 0.1, NAN], True, [2.5, 1, 2.5]),  # NaNs tie among themselves
        ([0.0], True, [1]),
    ],
)
def test_case_ranks(values, higher_is_better, expected):
    assert case_ranks(values, higher_is_better) == expected


@pytest.mark.parametrize("seed", range(5))
def test_each_metric_mean_ranks_sum_to_n_n_plus_1_over_2(seed):
    # ISLA's Table 5: five models, every metric's mean ranks sum to 15 although ALD and F1 tie heavily.
    rng = np.random.default_rng(seed)
    n_models, n_cases = 5, 30
    tables = {f"m{k}": {} for k in range(n_models)}
    for case in range(n_cases):
        for k in range(n_models):
            tables[f"m{k}"][f"c{case}"] = {
                "dice": float(rng.choice([0.5, 0.7, 0.9])), "avd_ml": float(rng.uniform(0, 5)),
                "ald": float(rng.integers(0, 3)), "lesion_f1": float(rng.choice([0.5, 1.0])),
                "hd95_mm": float(rng.choice([2.0, 4.0, NAN])),
            }
    ranking = rank_models(tables)
    for metric in ranking.metrics:
        assert sum(m.metric_mean_ranks[metric] for m in ranking.models) == pytest.approx(15.0)
    assert sum(m.mean_rank for m in ranking.models) == pytest.approx(15.0)


def _worked_example():
    # Two cases, three models, DSC (higher is better) and HD95 (lower is better).
    # case c1: DSC 0.8 / 0.8 / 0.5 -> ranks 1.5 / 1.5 / 3;  HD95 5 / 3 / NaN -> ranks 2 / 1 / 3
    # case c2: DSC 0.6 / 0.7 / 0.7 -> ranks 3 / 1.5 / 1.5;  HD95 2 / 2 / 2   -> ranks 2 / 2 / 2
    # mean DSC ranks: M1 2.25, M2 1.5, M3 2.25; mean HD95 ranks: M1 2.0, M2 1.5, M3 2.5
    # final: M1 2.125, M2 1.5, M3 2.375 (sum 6 = 1 + 2 + 3) -> order M2, M1, M3
    return {
        "M1": {"c1": {"dice": 0.8, "hd95_mm": 5.0}, "c2": {"dice": 0.6, "hd95_mm": 2.0}},
        "M2": {"c1": {"dice": 0.8, "hd95_mm": 3.0}, "c2": {"dice": 0.7, "hd95_mm": 2.0}},
        "M3": {"c1": {"dice": 0.5, "hd95_mm": NAN}, "c2": {"dice": 0.7, "hd95_mm": 2.0}},
    }


def test_rank_models_worked_example():
    ranking = rank_models(_worked_example(), ["dice", "hd95_mm"])
    assert [m.name for m in ranking.models] == ["M2", "M1", "M3"]
    assert [m.mean_rank for m in ranking.models] == pytest.approx([1.5, 2.125, 2.375])
    by_name = {m.name: m for m in ranking.models}
    assert by_name["M1"].metric_mean_ranks == pytest.approx({"dice": 2.25, "hd95_mm": 2.0})
    assert by_name["M3"].metric_mean_ranks == pytest.approx({"dice": 2.25, "hd95_mm": 2.5})
    assert by_name["M1"].metric_medians == pytest.approx({"dice": 0.7, "hd95_mm": 3.5})
    assert by_name["M3"].metric_medians == pytest.approx({"dice": 0.6, "hd95_mm": 2.0})  # NaN left out
    assert ranking.n_cases == 2 and ranking.best.name == "M2"


def test_ranking_table_shaped_like_isla_tables():
    lines = rank_models(_worked_example(), ["dice", "hd95_mm"]).format().splitlines()
    assert lines[0].split() == ["model", "mean", "rank", "DSC", "HD95"]
    assert lines[1].split() == ["M2", "1.50", "0.750", "(1.50)", "2.500", "(1.50)"]
    assert lines[2].split() == ["M1", "2.12", "0.700", "(2.25)", "3.500", "(2.00)"]
    assert lines[3].split() == ["M3", "2.38", "0.600", "(2.25)", "2.000", "(2.50)"]
    assert lines[4].startswith("2 cases.")


def test_rank_models_all_five_metrics_and_integer_ald():
    case = {"dice": 0.5, "avd_ml": 1.0, "ald": 1.0, "lesion_f1": 0.5, "hd95_mm": 4.0}
    better = {"dice": 0.6, "avd_ml": 1.0, "ald": 0.0, "lesion_f1": 0.5, "hd95_mm": 5.0}
    ranking = rank_models({"A": {"c": case}, "B": {"c": better}})
    # B: ranks 1, 1.5, 1, 1.5, 2 -> 1.4; A: 2, 1.5, 2, 1.5, 1 -> 1.6
    assert [m.name for m in ranking.models] == ["B", "A"]
    assert [m.mean_rank for m in ranking.models] == pytest.approx([1.4, 1.6])
    assert ranking.format().splitlines()[2].split()[6:8] == ["1", "(2.00)"]  # A's ALD median printed as 1


def test_rank_models_ties_keep_input_order():
    tables = {"first": {"c": {"dice": 0.5}}, "second": {"c": {"dice": 0.5}}}
    assert [m.name for m in rank_models(tables, ["dice"]).models] == ["first", "second"]


@pytest.mark.parametrize(
    "tables, metrics, message",
    [
        ({}, ["dice"], "at least one model"),
        ({"A": {"c": {"dice": 1.0}}}, ["jaccard"], "unknown metric"),
        ({"A": {"c1": {"dice": 1.0}}, "B": {"c2": {"dice": 1.0}}}, ["dice"], "different cases"),
        ({"A": {"c": {"dice": 1.0}}}, ["dice", "hd95_mm"], "lacks the metric hd95_mm"),
        ({"A": {}}, ["dice"], "no cases"),
    ],
)
def test_rank_models_errors(tables, metrics, message):
    with pytest.raises(ISLAError, match=message):
        rank_models(tables, metrics)
