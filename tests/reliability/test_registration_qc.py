"""A mask whose registration QC failed is written, but no one can miss it: console, summary, exit status.

The QC score is replaced by a low one here (the score itself is tested with the conversion QC); what
is checked is that the failure reaches the user: the case's summary line, the batch summary's lines and
``batch_summary.csv``, and ``isla predict``'s exit status 3.
"""

from __future__ import annotations

import csv
import shutil

import pytest
from prediction.helpers import BallModel, model_set

from isla_nnunet.cli import main
from isla_nnunet.conversion.cases import CaseSpec
from isla_nnunet.prediction import pipeline
from isla_nnunet.prediction.batch import SUMMARY_FILE, predict_batch
from isla_nnunet.prediction.pipeline import PredictionSettings

FAILED = "REGISTRATION QC FAILED (NCC 0.12 < 0.30)"


@pytest.fixture
def low_scores(monkeypatch):
    """Registration scores handed out in order (the real score after the list runs out)."""
    scores: list[float] = []
    real = pipeline.registration_score
    monkeypatch.setattr(pipeline, "registration_score",
                        lambda *args: scores.pop(0) if scores else real(*args))
    return scores


def test_cli_single_case_exit_status_3(native_case, tmp_path, capsys, low_scores):
    low_scores.append(0.12)
    status = main(["predict", "--dwi", str(native_case["dwi"]), "--adc", str(native_case["adc"]),
                   "-o", str(tmp_path / "out"), "--device", "cpu"])
    out = capsys.readouterr().out
    assert status == 3
    assert FAILED in out and "check qc.png before using this mask" in out
    assert (tmp_path / "out" / "lesion_mask.nii.gz").is_file()


def test_cli_single_case_passing_qc_exits_0(native_case, tmp_path, capsys):
    status = main(["predict", "--dwi", str(native_case["dwi"]), "--adc", str(native_case["adc"]),
                   "-o", str(tmp_path / "out"), "--device", "cpu"])
    assert status == 0 and "REGISTRATION QC" not in capsys.readouterr().out


def test_batch_names_the_failed_case_everywhere(native_case, tmp_path, low_scores):
    specs = [CaseSpec(name, str(native_case["dwi"]), adc=str(native_case["adc"]),
                      brain=str(native_case["brainmask"]), role="test") for name in ("good", "bad")]
    low_scores.extend([0.9, 0.12])
    summary = predict_batch(specs, model_set(BallModel()), tmp_path / "out", PredictionSettings(),
                            progress=False)
    assert summary.registration_failed == ["bad"] and not summary.failed
    text = "\n".join(summary.lines())
    assert "1 with failed registration QC" in text and "REGISTRATION QC FAILED bad" in text
    rows = {r["case_id"]: r for r in csv.DictReader((tmp_path / "out" / SUMMARY_FILE).open())}
    assert rows["good"]["registration_qc"] == "passed" and rows["bad"]["registration_qc"] == "failed"
    # A rerun skips both cases and still names the bad one.
    again = predict_batch(specs, model_set(BallModel()), tmp_path / "out", PredictionSettings(), progress=False)
    assert again.ids("skipped") == ["good", "bad"] and again.registration_failed == ["bad"]


def test_cli_batch_exit_status_3(native_case, tmp_path, capsys, low_scores):
    cases = tmp_path / "cases"
    cases.mkdir()
    for key in ("dwi", "adc"):
        shutil.copy(native_case[key], cases / f"c1_{key}.nii.gz")
    low_scores.append(0.12)
    status = main(["predict", "-i", str(cases), "-o", str(tmp_path / "out"), "--device", "cpu",
                   "--no-progress"])
    out = capsys.readouterr().out
    assert status == 3, out
    assert "REGISTRATION QC FAILED c1" in out


def test_convert_flagged_case_exit_status_3(native_case, tmp_path, capsys):
    (tmp_path / "cases.csv").write_text(
        f"case_id,dwi,adc,mask\nc1,{native_case['dwi']},{native_case['adc']},{native_case['msk']}\n")
    status = main(["convert", str(tmp_path / "cases.csv"), "-o", str(tmp_path / "Dataset957_QC"), "--no-progress",
                   "--qc-threshold", "0.99"])
    out = capsys.readouterr().out
    assert status == 3 and "QC flag c1" in out
