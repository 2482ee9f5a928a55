"""Inputs whose values cannot be a scan are one-line errors: a constant ADC, overflow-scale images,
b-values that are not b-values. Before these checks the first two were predicted (a constant ADC gave
31 ml in 47 lesions; a DWI scaled by 1e36 overflowed the normalisation and gave an empty mask), and
``--bvalues 0 inf`` was accepted."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from .helpers import refused


def _like(reference_path, array, path) -> str:
    reference = sitk.ReadImage(str(reference_path))
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(reference)
    sitk.WriteImage(image, str(path))
    return str(path)


def _refused(capsys, argv, message, out):
    return refused(capsys, ["predict", *argv, "-o", out, "--device", "cpu"], message, out)


def test_constant_adc(native_case, tmp_path, capsys):
    shape = sitk.GetArrayFromImage(sitk.ReadImage(str(native_case["adc"]))).shape
    adc = _like(native_case["adc"], np.ones(shape, np.float32), tmp_path / "adc.nii.gz")
    _refused(capsys, ["--dwi", native_case["dwi"], "--adc", adc], "adc.nii.gz has the same value (1) in every voxel",
             tmp_path / "out")


@pytest.mark.parametrize("scale", [1e20, 1e36])
def test_overflow_scale_dwi(native_case, tmp_path, capsys, scale):
    values = sitk.GetArrayFromImage(sitk.ReadImage(str(native_case["dwi"]))).astype(np.float64) * scale
    dwi = _like(native_case["dwi"], values, tmp_path / "dwi.nii.gz")
    err = _refused(capsys, ["--dwi", dwi, "--adc", native_case["adc"]], "far beyond any MRI intensity",
                   tmp_path / "out")
    assert "scl_slope" in err


@pytest.fixture
def four_d(native_case, tmp_path):
    dwi = sitk.ReadImage(str(native_case["dwi"]))
    path = tmp_path / "dwi4d.nii.gz"
    sitk.WriteImage(sitk.JoinSeries([dwi * 0 + 100, dwi]), str(path))
    return path


@pytest.mark.parametrize("values", [["0", "nan"], ["0", "inf"], ["0", "-1000"], ["0", "1e9"]])
def test_bad_bvalues_flag(four_d, tmp_path, capsys, values):
    _refused(capsys, ["--dwi", four_d, "--bvalues", *values], "--bvalues: ", tmp_path / "out")


def test_bad_bval_sidecar(four_d, tmp_path, capsys):
    four_d.with_name("dwi4d.bval").write_text("0 nan\n")
    _refused(capsys, ["--dwi", four_d], "dwi4d.bval: nan is not a b-value", tmp_path / "out")


def test_unknown_bvalues_name_the_flag(four_d, tmp_path, capsys):
    err = _refused(capsys, ["--dwi", four_d], "b-values are unknown", tmp_path / "out")
    assert "--bvalues" in err and "bvalues=" not in err
