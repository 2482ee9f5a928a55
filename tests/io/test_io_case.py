"""load_case: grids, ADC from b0, the one-line errors, and the two real cases."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.io import load_case


def _image(array, spacing=(2.0, 2.0, 2.0), origin=(0.0, 0.0, 0.0)) -> sitk.Image:
    image = sitk.GetImageFromArray(np.asarray(array, dtype=np.float32))
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    return image


@pytest.fixture
def dwi_path(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "dwi.nii.gz"
    sitk.WriteImage(_image(100 + rng.random((10, 12, 14))), str(path))
    return path


def _write(tmp_path, name, image):
    path = tmp_path / name
    sitk.WriteImage(image, str(path))
    return path


def _map(shape, value):
    """An ADC map of ``value`` with one half-value row (a constant ADC is refused as a placeholder)."""
    values = np.full(shape, value, dtype=np.float32)
    values[0, 0] = value / 2
    return values


def test_adc_on_same_grid_takes_dwi_header(tmp_path, dwi_path):
    values = _map((10, 12, 14), 0.8)
    case = load_case(dwi_path, _write(tmp_path, "adc.nii.gz", _image(values, spacing=(2.0000001, 2.0, 2.0))))
    assert case.adc_unit == 1e-3 and case.adc_origin == "file"
    assert case.adc.GetSpacing() == case.dwi.GetSpacing()
    np.testing.assert_allclose(sitk.GetArrayFromImage(case.adc), 1000 * values, rtol=1e-5)


def test_adc_on_other_overlapping_grid_is_resampled(tmp_path, dwi_path):
    adc = _image(_map((5, 6, 7), 900.0), spacing=(4.0, 4.0, 4.0), origin=(1.0, 1.0, 1.0))
    case = load_case(dwi_path, _write(tmp_path, "adc.mha", adc))
    assert case.adc_origin == "file, resampled to the DWI grid" and case.adc_unit == 1e-6
    assert case.adc.GetSize() == case.dwi.GetSize()
    assert np.median(sitk.GetArrayFromImage(case.adc)) == pytest.approx(900.0)


def test_adc_elsewhere_in_space_refused(tmp_path, dwi_path):
    adc = _image(_map((10, 12, 14), 0.8), origin=(500.0, 0.0, 0.0))
    with pytest.raises(ISLAError, match="covers 0% of the DWI field of view") as err:
        load_case(dwi_path, _write(tmp_path, "adc.nii.gz", adc))
    assert "\n" not in str(err.value)


def test_adc_computed_from_b0(tmp_path):
    dwi = _write(tmp_path, "dwi.nii.gz", _image(np.full((4, 5, 6), 1000 * np.exp(-0.7))))
    b0 = _write(tmp_path, "b0.nii.gz", _image(np.full((4, 5, 6), 1000.0)))
    case = load_case(dwi, b0=b0)
    assert case.adc_origin == "computed from b0 and b=1000" and case.b_value is None
    np.testing.assert_allclose(sitk.GetArrayFromImage(case.adc), 700.0, rtol=1e-4)
    assert case.sources["b0"] == str(b0)


def test_no_adc_and_no_b0_refused(dwi_path):
    with pytest.raises(ISLAError, match="no ADC for dwi.nii.gz"):
        load_case(dwi_path)


def test_empty_dwi_refused(tmp_path):
    dwi = _write(tmp_path, "dwi.nii.gz", _image(np.zeros((4, 5, 6))))
    with pytest.raises(ISLAError, match="no positive values"):
        load_case(dwi, b0=dwi)


def test_non_finite_values_become_zero(tmp_path):
    array = np.full((4, 5, 6), 300.0)
    array[0, 0, 0] = np.nan
    dwi = _write(tmp_path, "dwi.nii.gz", _image(array))
    adc = _write(tmp_path, "adc.nii.gz", _image(_map((4, 5, 6), 0.9)))
    case = load_case(dwi, adc, case_id="c1")
    assert sitk.GetArrayFromImage(case.dwi)[0, 0, 0] == 0.0
    assert case.case_id == "c1" and case.metadata()["adc_source_unit"] == "1e-3 mm^2/s"


def test_real_soop_case(shared_data):
    folder = shared_data / "soop" / "sub-3"
    case = load_case(folder / "sub-3_rec-TRACE_dwi.nii.gz", folder / "sub-3_rec-ADC_dwi.nii.gz")
    assert case.dwi.GetDimension() == 3 and case.dwi.GetSize() == (256, 256, 26)
    assert case.adc_unit == 1e-6 and case.b_value is None
    assert case.dwi.GetPixelID() == sitk.sitkFloat32


def test_real_isles_case(shared_data):
    folder = shared_data / "isles22" / "sub-strokecase0009"
    case = load_case(
        folder / "sub-strokecase0009_ses-0001_dwi.nii.gz", folder / "sub-strokecase0009_ses-0001_adc.nii.gz"
    )
    assert case.adc_unit == 1e-3 and case.b_value == 800.0
    adc = sitk.GetArrayFromImage(case.adc)
    assert 700 < np.median(adc[adc > 0]) < 1300
