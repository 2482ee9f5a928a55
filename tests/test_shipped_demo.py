"""``isla demo``: the shipped model on a simulated native scan, scored against the simulated truth."""

from __future__ import annotations

import hashlib
import json

import pytest

from isla_nnunet.cli import main
from isla_nnunet.prediction.shipped import shipped_model_folder
from isla_nnunet.shipped_demo import run_shipped_demo

pytestmark = pytest.mark.slow


def test_demo_segments_its_simulated_scan_and_resumes(tmp_path, capsys):
    messages = []
    first = run_shipped_demo(tmp_path, data=tmp_path / "no_data", echo=messages.append)
    assert [case.name for case in first] == ["simulated"]
    assert any("real case skipped" in m and "give --data" in m for m in messages)
    scores = first[0].scores
    assert scores["dice"] > 0.6 and scores["gt_volume_ml"] > 0, scores
    report = first[0].outdir / "report.json"
    stamp = report.stat().st_mtime_ns
    assert main(["demo", "--workdir", str(tmp_path), "--data", str(tmp_path / "no_data")]) == 0
    printed = capsys.readouterr().out
    assert report.stat().st_mtime_ns == stamp  # finished cases are not predicted again
    assert f"against the simulated truth: Dice {scores['dice']:.3f}" in printed
    assert "qc.png" in printed
    # The report names the weights that predicted; a demo after the shipped model changed predicts again.
    recorded = json.loads(report.read_text())
    checkpoint = shipped_model_folder() / "fold_0" / "checkpoint_final.pth"
    assert recorded["models"][0]["weights_sha256"] == [hashlib.sha256(checkpoint.read_bytes()).hexdigest()]
    recorded["models"][0]["weights_sha256"] = ["0" * 64]
    report.write_text(json.dumps(recorded))
    messages.clear()
    again = run_shipped_demo(tmp_path, data=tmp_path / "no_data", echo=messages.append)
    assert "isla predict on the simulated scan ..." in messages
    assert json.loads(report.read_text())["models"][0]["weights_sha256"] != ["0" * 64]
    assert again[0].scores["dice"] == pytest.approx(scores["dice"])
