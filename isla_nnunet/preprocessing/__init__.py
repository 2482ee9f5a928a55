"""From a native case to the reference space and back: brain mask, reference image, rigid registration.

Public entry points:
    extract_brain(case, method="auto") -> uint8 brain mask on the DWI grid
    register_to_reference(case, brain_mask) -> Registration (to_reference / to_native / save / load)
    reference_image.image() / reference_image.brain_mask() -> the reference DWI and its brain mask
"""

from isla_nnunet.preprocessing import reference_image
from isla_nnunet.preprocessing.brain_extraction import (
    METHODS,
    extract_brain,
    is_skull_stripped,
    resolve_method,
)
from isla_nnunet.preprocessing.registration import Registration, RegistrationSettings, register_to_reference

__all__ = [
    "METHODS",
    "Registration",
    "RegistrationSettings",
    "extract_brain",
    "is_skull_stripped",
    "reference_image",
    "register_to_reference",
    "resolve_method",
]
