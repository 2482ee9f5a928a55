"""Batches: models loaded once, a failing case is reported and the next one runs, finished cases resume."""

from __future__ import annotations

import csv

import pytest

from isla_nnunet.conversion import CaseSpec, discover_cases
from isla_nnunet.errors import ISLAError
from isla_nnunet.io.folder_lock import LOCK_FILE
from isla_nnunet.prediction.batch import SUMMARY_FILE, predict_batch
from isla_nnunet.prediction.pipeline import PredictionSettings

from .helpers import BallModel, model_set


@pytest.fixture
def cases_csv(native_case, tmp_path):
    path = tmp_path / "cases.csv"
    path.write_text(
        "case_id,dwi,adc,brain_mask\n"
        f"no_adc,{native_case['dwi']},,\n"
        f"good,{native_case['dwi']},{native_case['adc']},{native_case['brainmask']}\n"
        f"missing,{tmp_path / 'absent_dwi.nii.gz'},{native_case['adc']},\n")
    return path


def test_failures_are_reported_and_the_batch_goes_on(cases_csv, tmp_path):
    model = BallModel()
    lines = []
    summary = predict_batch(discover_cases(cases_csv), model_set(model), tmp_path / "out", progress=False,
                            echo=lines.append)
    assert [o.status for o in summary.outcomes] == ["failed", "predicted", "failed"]
    assert summary.failed == ["no_adc", "missing"]
    assert "no ADC for" in summary.outcomes[0].error and "does not exist" in summary.outcomes[2].error
    assert len(model.calls) == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [LOCK_FILE, SUMMARY_FILE, "good"]
    rows = list(csv.DictReader((tmp_path / "out" / SUMMARY_FILE).open()))
    assert [(r["case_id"], r["status"]) for r in rows] == [("no_adc", "failed"), ("good", "predicted"),
                                                           ("missing", "failed")]
    assert float(rows[1]["total_volume_ml"]) == summary.outcomes[1].report["lesion"]["total_volume_ml"]
    assert rows[1]["stroke_pattern"] == "single vessel infarct" and rows[1]["lesion_count"] == "1"
    assert lines[1].startswith("good: lesion ") and lines[0].startswith("no_adc: FAILED: no ADC")
    assert summary.lines()[0].startswith("1 predicted, 0 skipped (already done), 2 failed")

    again = predict_batch(discover_cases(cases_csv), model_set(model), tmp_path / "out", progress=False)
    assert [o.status for o in again.outcomes] == ["failed", "skipped", "failed"]
    assert len(model.calls) == 1
    assert again.outcomes[1].report == summary.outcomes[1].report

    redo = predict_batch(discover_cases(cases_csv), model_set(model), tmp_path / "out",
                         PredictionSettings(overwrite=True), progress=False)
    assert [o.status for o in redo.outcomes] == ["failed", "predicted", "failed"]
    assert len(model.calls) == 2


def test_empty_or_duplicated_batches_are_refused(native_case, tmp_path):
    with pytest.raises(ISLAError, match="no case to predict"):
        predict_batch([], model_set(BallModel()), tmp_path / "out")
    spec = CaseSpec("a", str(native_case["dwi"]), adc=str(native_case["adc"]), role="test")
    with pytest.raises(ISLAError, match="appears twice"):
        predict_batch([spec, spec], model_set(BallModel()), tmp_path / "out")
    assert not (tmp_path / "out").exists()

