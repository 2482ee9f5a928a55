"""Real cases registered once per session (the slow part), shared by the preprocessing tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import SimpleITK as sitk

from isla_nnunet.io import NativeCase, load_case, load_mask
from isla_nnunet.preprocessing import Registration, extract_brain, register_to_reference, resolve_method


@dataclass
class RegisteredCase:
    case: NativeCase
    method: str
    brain: sitk.Image
    lesion: sitk.Image
    registration: Registration


def _register(dwi, adc, lesion) -> RegisteredCase:
    case = load_case(dwi, adc)
    method = resolve_method(case, "auto")
    brain = extract_brain(case, method)
    return RegisteredCase(
        case, method, brain, load_mask(lesion, case.dwi), register_to_reference(case, brain)
    )


@pytest.fixture(scope="session")
def soop(shared_data) -> RegisteredCase:
    folder = shared_data / "soop" / "sub-3"
    return _register(
        folder / "sub-3_rec-TRACE_dwi.nii.gz",
        folder / "sub-3_rec-ADC_dwi.nii.gz",
        folder / "sub-3_space-TRACE_desc-lesion_mask.nii.gz",
    )


@pytest.fixture(scope="session")
def isles(shared_data) -> RegisteredCase:
    folder = shared_data / "isles22" / "sub-strokecase0009"
    prefix = folder / "sub-strokecase0009_ses-0001"
    return _register(f"{prefix}_dwi.nii.gz", f"{prefix}_adc.nii.gz", f"{prefix}_msk.nii.gz")
