"""A native simulated case on the reference grid, mapped the way ``isla predict`` maps a real scan.

``isla convert`` and ``isla predict`` register a native DWI to the reference, resample DWI and ADC
onto the reference grid with :class:`~isla_nnunet.preprocessing.registration.Registration` (linear)
and zero them outside the resampled brain mask
(:func:`~isla_nnunet.conversion.case_conversion.masked_nonnegative`). Training cases that go the same
way carry what that path does to a scan: the blur of thick slices resampled onto 0.9 x 0.9 x 6 mm
voxels, the partial-volume mask, the interpolation at the brain's border. Only the registration
itself is replaced by the simulation's known pose, with a small random error (``jitter``) standing
for the error of the optimiser.

Example:
    >>> from isla_nnunet.simulation import simulate_case
    >>> from isla_nnunet.simulation.geometry import RigidPose
    >>> from isla_nnunet.simulation.to_reference import reference_arrays
    >>> case = simulate_case(3, "isles22-like", pattern="single", volume_ml=20.0)
    >>> dwi, adc, lesion = reference_arrays(case, RigidPose(), adc_unit=1e-6)
    >>> dwi.shape, lesion.dtype.name
    ((192, 224, 32), 'uint8')
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from isla_nnunet.conversion.case_conversion import masked_nonnegative
from isla_nnunet.io.geometry import image_from_ras_affine
from isla_nnunet.preprocessing.registration import Registration, as_euler
from isla_nnunet.reference import CENTER_RAS_MM
from isla_nnunet.simulation.case import SimulatedCase
from isla_nnunet.simulation.geometry import RigidPose

_LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def known_registration(case: SimulatedCase, jitter: RigidPose) -> Registration:
    """The registration a perfect optimiser would find, off by ``jitter`` (reference side)."""
    # The pose maps reference-world RAS points to scanner RAS points; SimpleITK wants LPS.
    reference_to_native = _LPS_FROM_RAS @ case.pose.matrix() @ jitter.matrix() @ _LPS_FROM_RAS
    affine = sitk.AffineTransform(3)
    affine.SetMatrix(reference_to_native[:3, :3].flatten().tolist())
    affine.SetTranslation(reference_to_native[:3, 3].tolist())
    centre = (_LPS_FROM_RAS[:3, :3] @ np.asarray(CENTER_RAS_MM, dtype=float)).tolist()
    grid = image_from_ras_affine(case.affine, case.grid.shape_xyz, sitk.sitkUInt8)
    return Registration(as_euler(affine, centre), grid)


def _image(array: np.ndarray, grid: sitk.Image) -> sitk.Image:
    image = sitk.GetImageFromArray(np.ascontiguousarray(np.asarray(array, np.float32).transpose(2, 1, 0)))
    image.CopyInformation(grid)
    return image


def _array(image: sitk.Image, dtype) -> np.ndarray:
    return sitk.GetArrayFromImage(image).transpose(2, 1, 0).astype(dtype)


def reference_arrays(case: SimulatedCase, jitter: RigidPose, adc_unit: float | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DWI, ADC (float32) and lesion (uint8) on the reference grid, as (x, y, z) arrays.

    Args:
        case: a case simulated on a native grid.
        jitter: registration error (see :meth:`Randomisation.sample_jitter`); ``RigidPose()`` for none.
        adc_unit: store the ADC in this unit (mm^2/s per value); default the case's own.
    """
    registration = known_registration(case, jitter)
    grid = registration.native_grid
    brain = registration.to_reference(_image(case.brain_mask, grid), kind="mask")
    adc = case.adc.astype(np.float32)
    if adc_unit is not None:
        adc = adc * np.float32(case.acquisition.adc_unit / adc_unit)
    dwi_ref = masked_nonnegative(registration.to_reference(_image(case.dwi, grid)), brain)
    adc_ref = masked_nonnegative(registration.to_reference(_image(adc, grid)), brain)
    lesion_ref = registration.to_reference(_image(case.lesion, grid), kind="mask")
    return _array(dwi_ref, np.float32), _array(adc_ref, np.float32), _array(lesion_ref, np.uint8)
