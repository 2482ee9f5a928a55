"""Reading what clinics and datasets hand over: scans, b-values, ADC units, masks, grids.

Public entry points:
    load_case(dwi, adc=None, b0=None, bvalues=None, case_id=None) -> NativeCase
    load_mask(path, grid) -> uint8 mask on the DWI grid
    read_image(path) / read_volumes(path) / write_image(image, path)
    detect_adc_unit(adc) -> unit in mm^2/s per stored value
    resample_mask(mask, grid, transform) -> mask resampled so that small lesions survive
"""

from isla_nnunet.io.case import NativeCase, load_case
from isla_nnunet.io.images import read_image, read_volumes, write_image
from isla_nnunet.io.masks import load_mask, resample_mask
from isla_nnunet.io.units import CANONICAL_ADC_UNIT, detect_adc_unit

__all__ = [
    "CANONICAL_ADC_UNIT",
    "NativeCase",
    "detect_adc_unit",
    "load_case",
    "load_mask",
    "read_image",
    "read_volumes",
    "resample_mask",
    "write_image",
]
