"""``isla bids``: derivatives named by BIDS entities, resumable participants, SLURM index, group table."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet.cli import main
from isla_nnunet.conversion.layouts.bids_entities import find_acquisitions
from isla_nnunet.errors import ISLAError
from isla_nnunet.prediction.bids_app import GROUP_COLUMNS, group_table, run_participants

from .helpers import BallModel, geometry, model_set

ISLES_DWI = "sub-01/ses-01/dwi/sub-01_ses-01_dwi.nii.gz"
SOOP_DWI = "sub-02/dwi/sub-02_rec-TRACE_dwi.nii.gz"


@pytest.fixture()
def bids(native_case, tmp_path):
    """Three participants: ISLES'22 names, SOOP names, and one DWI without ADC or b0 (it must fail)."""
    root = tmp_path / "bids"
    files = {ISLES_DWI: native_case["dwi"], "sub-01/ses-01/dwi/sub-01_ses-01_adc.nii.gz": native_case["adc"],
             SOOP_DWI: native_case["dwi"], "sub-02/dwi/sub-02_rec-ADC_dwi.nii.gz": native_case["adc"],
             "sub-03/dwi/sub-03_dwi.nii.gz": native_case["dwi"],
             "derivatives/lesions/sub-01/sub-01_ses-01_dwi.nii.gz": native_case["msk"]}
    for name, source in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, root / name)
    return root


def test_participants_become_bids_derivatives(bids, tmp_path):
    out = tmp_path / "derivatives" / "isla"
    summary = run_participants(bids, out, find_acquisitions(bids), model_set(BallModel()))
    assert [(o.case_id, o.status) for o in summary.outcomes] == [
        ("sub-01_ses-01", "predicted"), ("sub-02", "predicted"), ("sub-03", "failed")]
    assert "ADC" in summary.outcomes[2].error
    folder = out / "sub-01" / "ses-01" / "dwi"
    assert sorted(p.name for p in folder.iterdir()) == sorted([
        "sub-01_ses-01_space-dwi_desc-lesion_mask.nii.gz", "sub-01_ses-01_space-dwi_desc-lesion_mask.json",
        "sub-01_ses-01_space-dwi_desc-lesion_probseg.nii.gz", "sub-01_ses-01_space-dwi_desc-lesion_probseg.json",
        "sub-01_ses-01_desc-lesion_table.tsv", "sub-01_ses-01_from-MNI152NLin2009aSym_to-dwi_xfm.json",
        "sub-01_ses-01_desc-qc_dwi.png", "sub-01_ses-01_desc-lesion_report.json"])
    mask = sitk.ReadImage(str(folder / "sub-01_ses-01_space-dwi_desc-lesion_mask.nii.gz"))
    assert geometry(mask) == geometry(sitk.ReadImage(str(bids / ISLES_DWI)))
    assert sitk.GetArrayViewFromImage(mask).sum() > 0
    sidecar = json.loads((folder / "sub-01_ses-01_space-dwi_desc-lesion_mask.json").read_text())
    assert sidecar["Sources"] == ["bids:raw:sub-01/ses-01/dwi/sub-01_ses-01_dwi.nii.gz",
                                  "bids:raw:sub-01/ses-01/dwi/sub-01_ses-01_adc.nii.gz"]
    table = (folder / "sub-01_ses-01_desc-lesion_table.tsv").read_text().splitlines()
    assert table[0].startswith("lesion\tvolume_ml\t") and len(table) == 2
    description = json.loads((out / "dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative" and description["GeneratedBy"][0]["Name"] == "isla-nnunet"
    assert (out / "sub-02" / "dwi" / "sub-02_desc-lesion_report.json").exists()
    assert not (out / "sub-03").exists() and not (out / ".isla_work").exists()
    # The same masks as the two inputs are one scan under two naming schemes.
    other = sitk.ReadImage(str(out / "sub-02" / "dwi" / "sub-02_space-dwi_desc-lesion_mask.nii.gz"))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(other), sitk.GetArrayFromImage(mask))

    again = run_participants(bids, out, find_acquisitions(bids, ["01", "02"]), model_set(BallModel()))
    assert [o.status for o in again.outcomes] == ["skipped", "skipped"]

    path, rows = group_table(out)
    with path.open() as handle:
        lines = list(csv.reader(handle, delimiter="\t"))
    assert rows == 2 and tuple(lines[0]) == GROUP_COLUMNS
    assert [line[:3] for line in lines[1:]] == [["sub-01", "ses-01", "sub-01_ses-01"], ["sub-02", "n/a", "sub-02"]]
    assert float(lines[1][3]) == pytest.approx(float(lines[2][3])) and lines[1][8] == "passed"


def test_output_may_not_be_the_bids_folder_and_group_needs_results(bids, tmp_path):
    with pytest.raises(ISLAError, match="OUTPUT_DIR is the BIDS folder"):
        run_participants(bids, bids, find_acquisitions(bids), model_set(BallModel()))
    with pytest.raises(ISLAError, match="run the participant level first"):
        group_table(tmp_path / "empty")


def test_cli_array_index_runs_one_participant(bids, trained_isla_model, tmp_path, capsys):
    out = tmp_path / "out"
    common = ["-m", str(trained_isla_model), "--device", "cpu"]
    assert main(["bids", str(bids), str(out), "participant", "--participant-index", "1", *common]) == 0
    assert (out / "sub-02" / "dwi" / "sub-02_desc-lesion_report.json").exists() and not (out / "sub-01").exists()
    assert main(["bids", str(bids), str(out), "participant", "--participant-index", "7", *common]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert main(["bids", str(bids), str(out), "group"]) == 0
    assert "1 acquisition(s)" in capsys.readouterr().out
    assert main(["bids", str(bids), str(out), "participant", "--participant-label", "09", *common]) == 2
    assert "no DWI for participant(s) 09" in capsys.readouterr().err
