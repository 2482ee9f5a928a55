"""Dataset layouts: ISLES'22 and SOOP BIDS trees, CSV tables, roles, and their one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from isla_nnunet.conversion import CaseSpec, detect_layout, discover_cases
from isla_nnunet.errors import ISLAError


def _touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_isles22_bids_tree(tmp_path):
    _touch(
        tmp_path,
        "rawdata/sub-strokecase0001/ses-0001/dwi/sub-strokecase0001_ses-0001_dwi.nii.gz",
        "rawdata/sub-strokecase0001/ses-0001/dwi/sub-strokecase0001_ses-0001_adc.nii.gz",
        "rawdata/sub-strokecase0001/ses-0001/anat/sub-strokecase0001_ses-0001_FLAIR.nii.gz",
        "derivatives/sub-strokecase0001/ses-0001/sub-strokecase0001_ses-0001_msk.nii.gz",
        "rawdata/sub-strokecase0002/ses-0001/dwi/sub-strokecase0002_ses-0001_dwi.nii.gz",
        "rawdata/sub-strokecase0002/ses-0001/dwi/sub-strokecase0002_ses-0001_adc.nii.gz",
    )
    assert detect_layout(tmp_path) == "isles22"
    first, second = discover_cases(tmp_path)
    assert first.case_id == "sub-strokecase0001_ses-0001" and first.role == "train"
    assert "derivatives" in first.lesion and first.adc.endswith("_adc.nii.gz")
    assert second.role == "test" and second.lesion is None


def test_soop_bids_tree_with_derivatives_anywhere(tmp_path):
    _touch(
        tmp_path,
        "sub-1/dwi/sub-1_rec-TRACE_dwi.nii.gz",
        "sub-1/dwi/sub-1_rec-ADC_dwi.nii.gz",
        "derivatives/lesion_masks/sub-1/dwi/sub-1_space-TRACE_desc-lesion_mask.nii.gz",
        "derivatives/lesion_masks/sub-1/dwi/sub-1_space-TRACE_desc-lesionAcute_mask.nii.gz",
        "sub-2/dwi/sub-2_rec-TRACE_dwi.nii.gz",
        "sub-2/dwi/sub-2_rec-ADC_dwi.nii.gz",
    )
    assert detect_layout(tmp_path) == "soop"
    specs = discover_cases(tmp_path, prefix="SOOP_")
    assert [s.case_id for s in specs] == ["SOOP_sub-1", "SOOP_sub-2"]
    assert specs[0].lesion.endswith("sub-1_space-TRACE_desc-lesion_mask.nii.gz")
    assert [s.role for s in discover_cases(tmp_path, unlabeled=True)] == ["unlabeled", "unlabeled"]


def test_real_shared_folders(shared_data):
    (soop,) = discover_cases(shared_data / "soop")
    assert soop.case_id == "sub-3" and soop.role == "train" and soop.adc.endswith("rec-ADC_dwi.nii.gz")
    (isles,) = discover_cases(shared_data / "isles22" / "sub-strokecase0009")
    assert isles.case_id == "sub-strokecase0009_ses-0001" and isles.lesion.endswith("_msk.nii.gz")


def test_csv_table(tmp_path):
    (tmp_path / "cases.csv").write_text(
        "case_id,dwi,adc,mask,role\n"
        "a,a/dwi.nii.gz,a/adc.nii.gz,a/msk.nii.gz,\n"
        "b,/data/b_dwi.nii.gz,,,unlabeled\n"
        "c,c_dwi.nii.gz,c_adc.nii.gz,,\n"
    )
    assert detect_layout(tmp_path / "cases.csv") == "csv"
    a, b, c = discover_cases(tmp_path / "cases.csv")
    assert a.role == "train" and a.dwi == str(tmp_path / "a" / "dwi.nii.gz")
    assert b.role == "unlabeled" and b.dwi == "/data/b_dwi.nii.gz" and b.adc is None
    assert c.role == "test"


@pytest.mark.parametrize(
    "content, message",
    [
        ("case_id,dwi,flair\nx,d.nii.gz,f.nii.gz\n", "unknown column 'flair'"),
        ("dwi,adc\nd.nii.gz,a.nii.gz\n", "needs the columns case_id and dwi"),
        ("case_id,dwi\nx,\n", "line 2: case_id and dwi must not be empty"),
        ("case_id,dwi\nx y,d.nii.gz\n", "case id 'x y' has characters"),
        ("case_id,dwi,role\nx,d.nii.gz,train\n", "training case without a lesion mask"),
        ("case_id,dwi,role\nx,d.nii.gz,validation\n", "role 'validation' unknown"),
        ("case_id,dwi\nx,d.nii.gz\nx,e.nii.gz\n", "case id x appears twice"),
    ],
)
def test_csv_errors(tmp_path, content, message):
    (tmp_path / "cases.csv").write_text(content)
    with pytest.raises(ISLAError, match=message) as err:
        discover_cases(tmp_path / "cases.csv")
    assert "\n" not in str(err.value)


def test_unknown_or_undetectable_layout(tmp_path):
    with pytest.raises(ISLAError, match="cannot tell the layout"):
        discover_cases(tmp_path)
    with pytest.raises(ISLAError, match="unknown layout 'brats'"):
        discover_cases(tmp_path, layout="brats")
    _touch(tmp_path, "sub-1/anat/sub-1_T1w.nii.gz")
    with pytest.raises(ISLAError, match="no case found"):
        discover_cases(tmp_path, layout="soop")


def test_spec_role_override():
    spec = CaseSpec("x", "d.nii.gz", lesion="m.nii.gz")
    assert spec.role == "train" and spec.with_role("unlabeled").role == "unlabeled"
