"""Error texts name the real cause and the flag; names the tool makes from files are valid ids."""

from __future__ import annotations

import shutil

import pytest

from isla_nnunet.cli import main
from isla_nnunet.conversion import discover_cases
from isla_nnunet.conversion.cases import CaseSpec, case_id_from_name
from isla_nnunet.errors import ISLAError


@pytest.mark.parametrize(("name", "expected"), [
    ("Müller", "Muller"), ("José García_dwi", "Jose_Garcia_dwi"), ("case 01 (repeat)", "case_01_repeat"),
    ("患者", "case"), ("_x_", "x"), ("sub-01.ses-2", "sub-01.ses-2"),
])
def test_case_id_from_name(name, expected):
    assert case_id_from_name(name) == expected


def test_typed_case_ids_are_checked_not_changed():
    with pytest.raises(ISLAError, match="case id 'Müller' has characters nnU-Net file names cannot hold"):
        CaseSpec("Müller", "dwi.nii.gz", adc="adc.nii.gz", role="test")


@pytest.fixture
def accented(native_case, tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    for key in ("dwi", "adc"):
        shutil.copy(native_case[key], folder / f"Müller_{key}.nii.gz")
    return folder


def test_folder_of_accented_scans_gets_valid_ids(accented):
    assert [s.case_id for s in discover_cases(accented)] == ["Muller"]


def test_isla_predict_accented_file_name(accented, tmp_path, capsys):
    dwi, adc = (str(accented / f"Müller_{key}.nii.gz") for key in ("dwi", "adc"))
    status = main(["predict", "--dwi", dwi, "--adc", adc, "-o", str(tmp_path / "out"), "--device", "cpu"])
    assert status == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("Muller_dwi: lesion ")
