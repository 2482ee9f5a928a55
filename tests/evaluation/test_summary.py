"""Median/IQR summaries and ISLA's lesion-size strata."""

from __future__ import annotations

import math

import pytest

from isla_nnunet.evaluation.summary import describe, format_summary, lesion_size_stratum, summarize


@pytest.mark.parametrize(
    "volume_ml, expected",
    [(0.0, "<5 ml"), (4.999, "<5 ml"), (5.0, "5-20 ml"), (19.99, "5-20 ml"), (20.0, ">=20 ml"),
     (300.0, ">=20 ml")],
)
def test_lesion_size_stratum(volume_ml, expected):
    assert lesion_size_stratum(volume_ml) == expected


def test_lesion_size_stratum_rejects_negative():
    with pytest.raises(ValueError):
        lesion_size_stratum(-1.0)


@pytest.mark.parametrize(
    "values, median, q1, q3, n, n_undefined",
    [
        ([3.0], 3.0, 3.0, 3.0, 1, 0),
        ([1.0, 2.0, 3.0, 4.0, 5.0], 3.0, 2.0, 4.0, 5, 0),
        ([4.0, 1.0, 3.0, 2.0], 2.5, 1.75, 3.25, 4, 0),  # linear interpolation
        ([1.0, math.nan, 3.0], 2.0, 1.5, 2.5, 2, 1),  # NaN left out and counted
    ],
)
def test_describe(values, median, q1, q3, n, n_undefined):
    stat = describe(values)
    assert (stat.median, stat.q1, stat.q3) == pytest.approx((median, q1, q3))
    assert (stat.n, stat.n_undefined) == (n, n_undefined)


def test_describe_nothing_defined():
    stat = describe([math.nan])
    assert math.isnan(stat.median) and stat.n == 0 and stat.n_undefined == 1


def test_summarize_groups_by_gt_volume():
    rows = [
        {"dice": 0.2, "gt_volume_ml": 1.0},
        {"dice": 0.4, "gt_volume_ml": 4.0},
        {"dice": 0.6, "gt_volume_ml": 5.0},
        {"dice": 0.9, "gt_volume_ml": 50.0},
    ]
    stats = {(s.group, s.metric): s for s in summarize(rows, ["dice"])}
    assert stats[("all", "dice")].median == pytest.approx(0.5)
    assert stats[("<5 ml", "dice")].median == pytest.approx(0.3)
    assert stats[("<5 ml", "dice")].n == 2
    assert stats[("5-20 ml", "dice")].median == pytest.approx(0.6)
    assert stats[(">=20 ml", "dice")].median == pytest.approx(0.9)


def test_format_summary_table():
    rows = [{"dice": 0.5, "hd95_mm": math.nan, "gt_volume_ml": 1.0},
            {"dice": 1.0, "hd95_mm": 2.0, "gt_volume_ml": 1.0}]
    lines = format_summary(summarize(rows, ["dice", "hd95_mm"])).splitlines()
    assert lines[0].split() == ["metric", "all", "(n=2)", "<5", "ml", "(n=2)", "5-20", "ml", "(n=0)", ">=20",
                                "ml", "(n=0)"]
    assert lines[1].split()[:4] == ["DSC", "0.750", "[0.625,", "0.875]"]
    assert "2.000 [2.000, 2.000] (1 undef.)" in lines[2]
    assert lines[2].rstrip().endswith("-")
