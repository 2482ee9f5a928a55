"""DWI/ADC acquisitions found by BIDS entities: ISLES'22 and SOOP names, sessions, runs, derivatives."""

from __future__ import annotations

import pytest

from isla_nnunet.conversion.layouts.bids_entities import find_acquisitions, parse_name, participants_of
from isla_nnunet.errors import ISLAError


@pytest.mark.parametrize("name, expected", [
    ("sub-01_ses-02_dwi.nii.gz", ("dwi", {"sub": "01", "ses": "02"})),
    ("sub-3_rec-ADC_dwi.nii", ("dwi", {"sub": "3", "rec": "ADC"})),
    ("sub-a_acq-fast_run-2_adc.nii.gz", ("adc", {"sub": "a", "acq": "fast", "run": "2"})),
    ("sub-01_dwi.json", None),
    ("ses-01_sub-01_dwi.nii.gz", None),
    ("sub-01_bad_dwi.nii.gz", None),
    ("dwi.nii.gz", None),
])
def test_parse_name(name, expected):
    assert parse_name(name) == expected


def _touch(root, *names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_isles22_and_soop_names_sessions_and_runs(tmp_path):
    _touch(tmp_path,
           "rawdata/sub-strokecase0001/ses-0001/dwi/sub-strokecase0001_ses-0001_dwi.nii.gz",
           "rawdata/sub-strokecase0001/ses-0001/dwi/sub-strokecase0001_ses-0001_adc.nii.gz",
           "rawdata/sub-strokecase0001/ses-0002/dwi/sub-strokecase0001_ses-0002_dwi.nii.gz",
           "rawdata/sub-strokecase0001/ses-0002/dwi/sub-strokecase0001_ses-0002_adc.nii.gz",
           "derivatives/sub-strokecase0001/ses-0001/sub-strokecase0001_ses-0001_dwi.nii.gz",
           "sub-3/dwi/sub-3_rec-TRACE_dwi.nii.gz", "sub-3/dwi/sub-3_rec-ADC_dwi.nii.gz",
           "sub-3/dwi/sub-3_rec-TRACE_run-2_dwi.nii.gz", "sub-3/dwi/sub-3_rec-b0_run-2_dwi.nii.gz",
           "sub-3/anat/sub-3_FLAIR.nii.gz", ".hidden/sub-9_dwi.nii.gz")
    found = find_acquisitions(tmp_path)
    assert [a.prefix for a in found] == ["sub-3", "sub-3_run-2", "sub-strokecase0001_ses-0001",
                                         "sub-strokecase0001_ses-0002"]
    soop, soop_run2, isles = found[0], found[1], found[2]
    assert soop.dwi.name == "sub-3_rec-TRACE_dwi.nii.gz" and soop.adc.name == "sub-3_rec-ADC_dwi.nii.gz"
    assert soop_run2.adc is None and soop_run2.b0.name == "sub-3_rec-b0_run-2_dwi.nii.gz"
    assert "rawdata" in isles.dwi.parts and isles.adc.name.endswith("_adc.nii.gz")
    assert str(isles.folder) == "sub-strokecase0001/ses-0001/dwi" and str(soop.folder) == "sub-3/dwi"
    assert participants_of(found) == ["3", "strokecase0001"]
    assert [a.prefix for a in find_acquisitions(tmp_path, ["sub-3"])] == ["sub-3", "sub-3_run-2"]


def test_real_cases_found(shared_data):
    (isles,) = find_acquisitions(shared_data / "isles22" / "sub-strokecase0009")
    assert (isles.subject, isles.session) == ("strokecase0009", "0001") and isles.adc is not None
    (soop,) = find_acquisitions(shared_data / "soop")
    assert soop.subject == "3" and soop.adc.name == "sub-3_rec-ADC_dwi.nii.gz"


def test_refusals(tmp_path):
    with pytest.raises(ISLAError, match="not found"):
        find_acquisitions(tmp_path / "missing")
    with pytest.raises(ISLAError, match="no DWI found"):
        find_acquisitions(tmp_path)
    _touch(tmp_path, "sub-1/dwi/sub-1_dwi.nii.gz", "sub-1/dwi/sub-1_rec-TRACE_dwi.nii")
    with pytest.raises(ISLAError, match="two dwi images for sub-1"):
        find_acquisitions(tmp_path)
    (tmp_path / "sub-1/dwi/sub-1_rec-TRACE_dwi.nii").unlink()
    with pytest.raises(ISLAError, match="no DWI for participant"):
        find_acquisitions(tmp_path, ["02"])
