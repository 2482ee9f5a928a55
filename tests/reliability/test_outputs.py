"""``--overwrite`` never deletes what the tool did not write, and outputs never land on the inputs.

Before these checks ``--overwrite`` replaced the whole ``-o`` folder, so scans kept there were deleted.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from prediction.helpers import BallModel, model_set

from isla_nnunet.cli import main
from isla_nnunet.conversion.cases import CaseSpec
from isla_nnunet.errors import ISLAError
from isla_nnunet.prediction.batch import predict_batch
from isla_nnunet.prediction.pipeline import CASE_OUTPUTS, OWN_OUTPUTS, PredictionSettings, predict_case


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def case_in(native_case, tmp_path):
    """The native case copied into tmp_path/case/ (dwi, adc, brain mask) and its CaseSpec."""
    folder = tmp_path / "case"
    folder.mkdir()
    files = {k: shutil.copy(native_case[k], folder / Path(native_case[k]).name) for k in ("dwi", "adc", "brainmask")}
    spec = CaseSpec("sim5", str(files["dwi"]), adc=str(files["adc"]), brain=str(files["brainmask"]), role="test")
    return folder, spec


def test_overwrite_replaces_own_files_only(case_in, tmp_path):
    _, spec = case_in
    outdir = tmp_path / "out"
    # Every optional output first, so the second run has stale files of each kind to remove.
    predict_case(spec, model_set(BallModel()), outdir,
                 PredictionSettings(save_reference=True, save_mni=True, viewer=True))
    assert {p.name for p in outdir.iterdir()} == set(OWN_OUTPUTS)
    (outdir / "notes.txt").write_text("reader's notes")
    (outdir / "mine").mkdir()
    (outdir / "mine" / "scan.nii.gz").write_bytes(b"not the tool's")
    old_report = (outdir / "report.json").read_text()

    predict_case(spec, model_set(BallModel(radius_mm=10.0)), outdir, PredictionSettings(overwrite=True))
    names = {p.name for p in outdir.iterdir()}
    # Reference, MNI and viewer files of the first run would not match the new mask: they are gone.
    assert names == set(CASE_OUTPUTS) | {"notes.txt", "mine"}
    assert (outdir / "notes.txt").read_text() == "reader's notes"
    assert (outdir / "mine" / "scan.nii.gz").read_bytes() == b"not the tool's"
    assert (outdir / "report.json").read_text() != old_report
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "staging left behind"


@pytest.mark.parametrize("overwrite", [False, True])
def test_output_folder_holding_the_inputs_is_refused(case_in, overwrite):
    folder, spec = case_in
    before = {p.name: digest(p) for p in folder.iterdir()}
    with pytest.raises(ISLAError, match="holds the input .*give an -o outside the input folders"):
        predict_case(spec, model_set(BallModel()), folder, PredictionSettings(overwrite=overwrite))
    assert {p.name: digest(p) for p in folder.iterdir()} == before


def test_cli_refuses_output_holding_the_inputs_before_loading_models(case_in, capsys):
    folder, spec = case_in
    before = {p.name: digest(p) for p in folder.iterdir()}
    status = main(["predict", "--dwi", spec.dwi, "--adc", spec.adc, "-o", str(folder), "--overwrite",
                   "-m", str(folder / "no_model_here")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and "holds the input" in err and "\n" not in err, err
    assert {p.name: digest(p) for p in folder.iterdir()} == before


def test_batch_output_root_equal_to_the_input_root_keeps_the_scans(case_in, tmp_path):
    # A layout with one folder per case (ISLES'22, SOOP, CSV "c/dwi") sends case c's outputs to -o/c:
    # with -o the input root, that is the folder holding c's scans.
    folder, spec = case_in
    before = {p.name: digest(p) for p in folder.iterdir()}
    spec = CaseSpec("case", spec.dwi, adc=spec.adc, brain=spec.brain, role="test")
    summary = predict_batch([spec], model_set(BallModel()), tmp_path, PredictionSettings(overwrite=True),
                            progress=False)
    assert summary.failed and "holds the input" in summary.outcomes[0].error
    assert {p.name: digest(p) for p in folder.iterdir()} == before
