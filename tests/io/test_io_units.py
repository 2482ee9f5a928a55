"""ADC unit detection and the b0/b1000 ADC formula."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.io.adc import compute_adc
from isla_nnunet.io.units import CANONICAL_ADC_UNIT, detect_adc_unit, to_canonical_adc

BRAIN_ADC_MM2_S = np.array([0.7e-3, 0.8e-3, 0.9e-3, 1.1e-3, 3.0e-3, 0.0])


@pytest.mark.parametrize("unit", [1e-3, 1e-6, 1.0, 1e6])
def test_units_detected(unit):
    assert detect_adc_unit(BRAIN_ADC_MM2_S / unit) == unit


def test_mask_restricts_the_voxels_looked_at():
    values = np.array([900.0, 900.0, 0.9, 0.9, 0.9])
    assert detect_adc_unit(values, mask=np.array([1, 1, 0, 0, 0])) == 1e-6


def test_dwi_given_as_adc_is_refused():
    with pytest.raises(ISLAError, match="fits no known ADC unit") as err:
        detect_adc_unit(np.full(50, 103.0), name="sub-3_dwi.nii.gz")
    assert "\n" not in str(err.value) and "sub-3_dwi.nii.gz" in str(err.value)


def test_empty_adc_is_refused():
    with pytest.raises(ISLAError, match="no positive values"):
        detect_adc_unit(np.zeros(10))


def test_to_canonical():
    image = sitk.GetImageFromArray(np.full((2, 2, 2), 0.8, np.float32))
    out = sitk.GetArrayFromImage(to_canonical_adc(image, 1e-3))
    np.testing.assert_allclose(out, 800.0, rtol=1e-6)
    assert out.dtype == np.float32


def test_adc_from_b0_and_b1000():
    adc_true = np.array([0.8e-3, 3.0e-3, 0.0]).reshape(1, 1, 3)
    s0 = np.array([1000.0, 2000.0, 0.0]).reshape(1, 1, 3)
    b0 = sitk.GetImageFromArray(s0)
    b1000 = sitk.GetImageFromArray(s0 * np.exp(-1000.0 * adc_true))
    adc = sitk.GetArrayFromImage(compute_adc(b0, b1000, 1000.0))
    np.testing.assert_allclose(adc, adc_true / CANONICAL_ADC_UNIT, rtol=1e-4)


def test_adc_noise_clipped_at_zero():
    b0 = sitk.GetImageFromArray(np.full((1, 1, 2), 100.0))
    sb = sitk.GetImageFromArray(np.array([[[120.0, -5.0]]]))
    assert sitk.GetArrayFromImage(compute_adc(b0, sb, 1000.0)).tolist() == [[[0.0, 0.0]]]


def test_adc_needs_positive_b():
    image = sitk.GetImageFromArray(np.ones((2, 2, 2)))
    with pytest.raises(ISLAError, match="b-value 0"):
        compute_adc(image, image, 0.0)
