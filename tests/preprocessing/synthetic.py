"""Synthetic cases with a known rigid placement, built from the reference DWI (no external data).

The "native" scan is the 2 mm reference DWI resampled through a known rigid transform onto an
anisotropic grid, with noise, a bright-DWI/low-ADC lesion and an ADC from tissue contrast. The true
transform maps reference points to native points, the convention of ``Registration.transform``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from isla_nnunet.preprocessing import reference_image

NATIVE_SPACING = (1.8, 1.8, 4.0)
NATIVE_SIZE = (104, 124, 44)
# Reference-space lesion centre (LPS mm): right frontal white matter, about 12 mm across.
LESION_CENTRE_LPS = (-25.0, -15.0, 20.0)
LESION_RADIUS_MM = 6.0


def rigid(angles_deg=(0.0, 0.0, 0.0), translation_mm=(0.0, 0.0, 0.0)) -> sitk.Euler3DTransform:
    """Euler transform about the reference field-of-view centre."""
    grid = reference_image.reference_grid()
    centre = grid.TransformContinuousIndexToPhysicalPoint([(s - 1) / 2 for s in grid.GetSize()])
    transform = sitk.Euler3DTransform()
    transform.SetCenter(centre)
    transform.SetRotation(*np.deg2rad(angles_deg))
    transform.SetTranslation(translation_mm)
    return transform


def native_grid(true: sitk.Transform) -> sitk.Image:
    """Axis-aligned anisotropic grid centred on where the reference centre lands in native space."""
    grid = sitk.Image(NATIVE_SIZE, sitk.sitkFloat32)
    grid.SetSpacing(NATIVE_SPACING)
    ref = reference_image.reference_grid()
    centre = np.asarray(
        true.TransformPoint(ref.TransformContinuousIndexToPhysicalPoint([(s - 1) / 2 for s in ref.GetSize()]))
    )
    grid.SetOrigin((centre - (np.asarray(NATIVE_SIZE) - 1) / 2 * np.asarray(NATIVE_SPACING)).tolist())
    return grid


def make_case(true: sitk.Transform, seed: int = 0, noise: float = 0.03) -> dict[str, sitk.Image]:
    """Images of a skull-stripped case: {'dwi', 'adc' (1e-3 mm^2/s), 'lesion', 'brain'} on a native grid."""
    target, mask = reference_image.registration_target()
    grid = native_grid(true)
    to_reference = true.GetInverse()
    dwi = sitk.Resample(target, grid, to_reference, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    brain = sitk.Resample(mask, grid, to_reference, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    index = np.indices(NATIVE_SIZE[::-1]).reshape(3, -1).T[:, ::-1].astype(float)
    direction = np.asarray(grid.GetDirection()).reshape(3, 3)
    points = np.asarray(grid.GetOrigin()) + (index * np.asarray(NATIVE_SPACING)) @ direction.T
    centre = np.asarray(true.TransformPoint(LESION_CENTRE_LPS))
    lesion = (np.linalg.norm(points - centre, axis=1) <= LESION_RADIUS_MM).reshape(NATIVE_SIZE[::-1])
    rng = np.random.default_rng(seed)
    dwi_array = sitk.GetArrayFromImage(dwi)
    brain_array = sitk.GetArrayFromImage(brain) > 0
    dwi_array = dwi_array * (1.0 + 1.5 * lesion) + noise * rng.standard_normal(dwi_array.shape) * brain_array
    dwi_array = np.clip(dwi_array, 0, None) * brain_array * 500.0
    # CSF, dark on the template DWI, has a high ADC: one scan's DWI and ADC are anti-correlated.
    template = sitk.GetArrayFromImage(dwi)
    csf = np.clip(1.0 - template / np.median(template[brain_array]), 0.0, 1.0)
    adc_array = (np.where(brain_array, 0.85 + 1.5 * csf - 0.4 * lesion, 0.0)
                 + 0.02 * rng.standard_normal(dwi_array.shape))
    out = {}
    for name, array in (
        ("dwi", dwi_array),
        ("adc", adc_array * brain_array),
        ("lesion", lesion),
        ("brain", brain_array),
    ):
        image = sitk.GetImageFromArray(array.astype(np.uint8 if array.dtype == bool else np.float32))
        image.CopyInformation(grid)
        out[name] = image
    return out


def write_case(folder: Path, name: str, images: dict[str, sitk.Image]) -> dict[str, Path]:
    """Write the case's images as ``folder/name_{dwi,adc,lesion,brain}.nii.gz`` and return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key, image in images.items():
        paths[key] = folder / f"{name}_{key}.nii.gz"
        sitk.WriteImage(image, str(paths[key]))
    return paths


def transform_error(estimated: sitk.Transform, true: sitk.Transform) -> tuple[float, float]:
    """(rotation error in degrees, displacement in mm at the reference brain centre)."""
    mask = sitk.GetArrayFromImage(reference_image.brain_mask())
    grid = reference_image.reference_grid()
    centre_index = np.argwhere(mask).mean(axis=0)[::-1]
    centre = grid.TransformContinuousIndexToPhysicalPoint(centre_index.tolist())
    shift = float(np.linalg.norm(np.subtract(estimated.TransformPoint(centre), true.TransformPoint(centre))))
    r_est = _matrix(estimated)
    r_true = _matrix(true)
    cosine = np.clip((np.trace(r_est @ r_true.T) - 1) / 2, -1.0, 1.0)
    return float(np.degrees(np.arccos(cosine))), shift


def _matrix(transform: sitk.Transform) -> np.ndarray:
    origin = np.asarray(transform.TransformPoint((0.0, 0.0, 0.0)))
    return np.stack([np.asarray(transform.TransformPoint(tuple(e))) - origin for e in np.eye(3)], axis=1)
