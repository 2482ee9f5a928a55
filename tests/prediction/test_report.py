"""Lesion table, totals and stroke pattern against a hand-built mask with known lesions."""

from __future__ import annotations

import csv
import io
import json
from types import SimpleNamespace

import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet.prediction.report import (
    MIXED,
    NO_ISCHEMIA,
    SCATTERED,
    SINGLE_VESSEL,
    lesion_summary,
    lesion_table,
    lesions_csv,
    predicted_by,
    stroke_pattern,
    summary_line,
)

SPACING_XYZ = (1.0, 2.0, 3.0)  # voxel volume 6 mm^3 = 0.006 ml
ORIGIN_LPS = (10.0, 20.0, -5.0)


def _image(array: np.ndarray, direction=(1, 0, 0, 0, 1, 0, 0, 0, 1)) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(SPACING_XYZ)
    image.SetOrigin(ORIGIN_LPS)
    image.SetDirection([float(d) for d in direction])
    return image


@pytest.fixture
def known_lesions():
    """Three 26-connected lesions (four with 6-connectivity) and their probabilities, arrays (z, y, x)."""
    mask = np.zeros((8, 10, 12), np.uint8)
    prob = np.zeros(mask.shape, np.float32)
    mask[1:3, 2:5, 3:5] = 1          # A: 2 x 3 x 2 = 12 voxels, centroid (x, y, z) = (3.5, 3, 1.5)
    prob[1:3, 2:5, 3:5] = 0.6
    prob[2, 4, 4] = 0.95
    mask[5, 7, 9] = mask[6, 8, 10] = 1  # B: two voxels touching at a corner only
    prob[5, 7, 9], prob[6, 8, 10] = 0.7, 0.55
    mask[7, 0, 0] = 1                # C: one voxel at the corner of the grid
    prob[7, 0, 0] = 0.51
    prob[0, 9, 11] = 0.99            # high probability outside the mask is no lesion's maximum
    return mask, prob


def test_lesion_table_numbers_sizes_centroids_and_maxima(known_lesions):
    mask, prob = known_lesions
    lesions = lesion_table(_image(mask), _image(prob))
    assert [les.lesion for les in lesions] == [1, 2, 3]
    assert [les.voxels for les in lesions] == [12, 2, 1]
    np.testing.assert_allclose([les.volume_ml for les in lesions], [0.072, 0.012, 0.006])
    assert [les.centroid_xyz for les in lesions] == [(3.5, 3.0, 1.5), (9.5, 7.5, 5.5), (0.0, 0.0, 7.0)]
    # Identity direction: LPS = origin + spacing * index; RAS flips the first two axes.
    assert lesions[0].centroid_ras_mm == (-(10.0 + 3.5), -(20.0 + 3.0 * 2.0), -5.0 + 1.5 * 3.0)
    assert lesions[2].centroid_ras_mm == (-10.0, -20.0, -5.0 + 7 * 3.0)
    np.testing.assert_allclose([les.max_probability for les in lesions], [0.95, 0.7, 0.51], rtol=1e-6)


def test_world_centroid_follows_the_direction_matrix(known_lesions):
    mask, _ = known_lesions
    # Index axes pointing right and anterior (RAS storage): LPS = origin + diag(-1, -1, 1) (spacing * index).
    lesions = lesion_table(_image(mask, direction=(-1, 0, 0, 0, -1, 0, 0, 0, 1)))
    lps = np.array(ORIGIN_LPS) + np.array([-3.5 * 1.0, -3.0 * 2.0, 1.5 * 3.0])
    assert lesions[0].centroid_ras_mm == pytest.approx((-lps[0], -lps[1], lps[2]))
    assert np.isnan(lesions[0].max_probability)


def test_summary_of_known_lesions(known_lesions):
    mask, prob = known_lesions
    totals = lesion_summary(lesion_table(_image(mask), _image(prob)))
    assert totals["count"] == 3
    assert totals["total_volume_ml"] == pytest.approx(15 * 0.006)
    assert totals["largest_share"] == pytest.approx(12 / 15)
    # >= 3 lesions and total < 5 ml: scattered, although the largest holds 80 %.
    assert totals["stroke_pattern"] == SCATTERED


def test_empty_mask():
    lesions = lesion_table(_image(np.zeros((3, 4, 5), np.uint8)))
    assert lesions == []
    totals = lesion_summary(lesions)
    assert (totals["count"], totals["total_volume_ml"], totals["stroke_pattern"]) == (0, 0.0, NO_ISCHEMIA)


@pytest.mark.parametrize("volumes, expected", [
    ([], NO_ISCHEMIA),
    ([12.0], SINGLE_VESSEL),
    ([95.5, 4.5], SINGLE_VESSEL),           # largest 95.5 % > 95 %
    ([95.0, 5.0], MIXED),                   # exactly 95 % is not > 95 %; two lesions are not scattered
    ([3.0, 2.0, 1.0], SCATTERED),           # largest 50 % < 60 %
    ([6.0, 2.0, 2.0], MIXED),               # largest exactly 60 %, total 10 ml >= 5 ml
    ([4.0, 0.3, 0.3], SCATTERED),           # largest 87 % but total 4.6 ml < 5 ml
    ([40.0, 5.0, 5.0], MIXED),              # largest 80 %, total 50 ml
    ([4.9, 0.1, 0.1], SINGLE_VESSEL),       # 96 %: the single-vessel rule comes first
    ([30.0, 20.0], MIXED),                  # two lesions: never scattered
])
def test_stroke_pattern_rules(volumes, expected):
    assert stroke_pattern(volumes) == expected


def test_lesions_csv_round_trip(known_lesions):
    mask, prob = known_lesions
    lesions = lesion_table(_image(mask), _image(prob))
    rows = list(csv.DictReader(io.StringIO(lesions_csv(lesions))))
    assert [int(r["voxels"]) for r in rows] == [12, 2, 1]
    assert [float(r["volume_ml"]) for r in rows] == [les.volume_ml for les in lesions]
    assert float(rows[0]["centroid_ras_mm_x"]) == lesions[0].centroid_ras_mm[0]
    assert float(rows[1]["max_probability"]) == lesions[1].max_probability


def test_summary_line_grammar():
    one = {"total_volume_ml": 1.004, "count": 1, "stroke_pattern": SINGLE_VESSEL}
    line = summary_line("c", one, 1200.4, 1, "mean", 3.25, "o")
    assert line == ("c: lesion 1.00 ml in 1 lesion (single vessel infarct), brain 1200 ml, "
                    "1 model in 3.2 s -> o")
    assert summary_line("c", one, 1200.4, 1, "mean", 3.25, "o", shipped=True).endswith(
        "brain 1200 ml, the shipped model in 3.2 s -> o")
    # An ensemble that includes the shipped model is still an ensemble.
    assert ", 2 models (vote) in" in summary_line("c", one, 1200.4, 2, "vote", 3.25, "o", shipped=True)


_A, _B = SimpleNamespace(weights_sha256=("a0", "a1")), SimpleNamespace(weights_sha256=("b0",))


@pytest.mark.parametrize("content, models, reusable", [
    (None, [_A], False),                                                                # no report yet
    ("{not json", [_A], False),                                                         # torn or edited
    ('["a list"]', [_A], False),                                                        # not a report
    (json.dumps({"models": [{"name": "m"}]}), [_A], False),                             # before weights were recorded
    (json.dumps({"models": [{"weights_sha256": ["a0", "a1"]}]}), [_A], True),
    (json.dumps({"models": [{"weights_sha256": ["a0", "aX"]}]}), [_A], False),          # one fold retrained
    (json.dumps({"models": [{"weights_sha256": ["a0", "a1"]}]}), [_A, _B], False),      # another ensemble
    (json.dumps({"models": [{"weights_sha256": ["b0"]}, {"weights_sha256": ["a0", "a1"]}]}), [_A, _B], False),
])
def test_a_report_is_reused_only_for_the_weights_that_made_it(tmp_path, content, models, reusable):
    report = tmp_path / "report.json"
    if content is not None:
        report.write_text(content)
    assert predicted_by(report, models) is reusable


_MADE_BY_A = {"models": [{"weights_sha256": ["a0", "a1"]}]}


@pytest.mark.parametrize("prediction, tta, adc_check, reusable", [
    ({"test_time_mirroring": False}, False, False, True),
    ({"test_time_mirroring": True}, False, False, False),          # mirrored: not the plain prediction
    ({"test_time_mirroring": True}, True, False, True),
    ({"test_time_mirroring": False}, True, False, False),
    ({"test_time_mirroring": False, "adc_check": {"kept": 1, "removed": []}}, False, True, True),
    ({"test_time_mirroring": False, "adc_check": {"kept": 1, "removed": []}}, False, False, False),
    ({"test_time_mirroring": False}, False, True, False),          # not checked: rerun with the check
])
def test_a_report_is_reused_only_with_the_settings_that_made_it(tmp_path, prediction, tta, adc_check, reusable):
    report = tmp_path / "report.json"
    report.write_text(json.dumps({**_MADE_BY_A, "prediction": prediction}))
    assert predicted_by(report, [_A], tta=tta, adc_check=adc_check) is reusable
