"""The reference DWI and its brain mask, built from the MNI152 templates shipped inside nilearn.

How the reference is made (no download: the files are part of the nilearn wheel, nilearn >= 0.10):

1. Read the ICBM 2009a symmetric templates ``mni_icbm152_{t1,gm,wm}_tal_nlin_sym_09a_converted.nii.gz``
   (1 mm, values 0..255) from ``nilearn/datasets/data``.
2. Brain mask = T1 / 255 > 0.2, the definition of ``nilearn.datasets.load_mni152_brain_mask``.
   CSF probability = (1 - GM - WM) inside the brain mask.
3. DWI-like contrast: sum over tissues of probability x b1000 trace intensity, with the tissue
   intensities of :data:`TISSUE_DWI` (grey matter = 1).
4. Slice profile: Gaussian smoothing along the inferior-superior axis with a FWHM of one reference slice
   (6 mm), then linear resampling onto the reference grid of :mod:`isla_nnunet.reference`. The brain mask
   goes through the same smoothing and is thresholded at 0.5.

Two grids are provided: the reference grid itself (:func:`image`, :func:`brain_mask`; what nnU-Net sees
and what QC shows) and a 2 mm isotropic grid over the same field of view (:func:`registration_target`)
that registration uses, because 6 mm slices are too coarse for the coarse levels of a multi-resolution
scheme. Results are cached per process (a few seconds to build once).

Example:
    >>> from isla_nnunet.preprocessing import reference_image
    >>> reference_image.image().GetSize()  # doctest: +SKIP
    (192, 224, 32)
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from isla_nnunet import reference
from isla_nnunet.errors import ISLAError
from isla_nnunet.io.geometry import image_from_ras_affine

TEMPLATE_FILES = {
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}
BRAIN_THRESHOLD = 0.2
"""T1 template threshold (0..1 scale) of nilearn's MNI152 brain mask."""

TISSUE_DWI = {"gm": 1.0, "wm": 1.05, "csf": 0.45}
"""Relative b1000 trace intensity per tissue (grey matter = 1)."""

REGISTRATION_SPACING_MM = 2.0
_FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


def template_folder() -> Path:
    """Folder of the MNI152 templates inside the installed nilearn (found without importing nilearn).

    Raises:
        ISLAError: nilearn is not installed or its wheel lacks the templates.
    """
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise ISLAError(
            "nilearn is not installed: pip install 'nilearn>=0.10' (it ships the MNI152 templates)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    missing = [name for name in TEMPLATE_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise ISLAError(f"MNI152 template {missing[0]} is missing from {folder}: reinstall nilearn>=0.10")
    return folder


def reference_grid(pixel_type=sitk.sitkFloat32) -> sitk.Image:
    """Empty image on the ISLA reference grid (192 x 224 x 32, LAS, 0.9 x 0.9 x 6 mm)."""
    return image_from_ras_affine(reference.affine(), reference.SHAPE_XYZ, pixel_type)


@functools.lru_cache(maxsize=1)
def _mni_header() -> tuple[tuple[int, ...], tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(template_folder() / TEMPLATE_FILES["t1"]))
    reader.ReadImageInformation()
    return reader.GetSize(), reader.GetSpacing(), reader.GetOrigin(), reader.GetDirection()


def mni_grid(pixel_type=sitk.sitkFloat32) -> sitk.Image:
    """Empty image on the 1 mm grid of the MNI152 template the reference is built from (197 x 233 x 189).

    The reference grid lies in the same world frame, so a transform to the reference is one to MNI152.
    """
    size, spacing, origin, direction = _mni_header()
    out = sitk.Image(list(size), pixel_type)
    out.SetSpacing(spacing)
    out.SetOrigin(origin)
    out.SetDirection(direction)
    return out


def registration_grid() -> sitk.Image:
    """Empty image on a 2 mm isotropic grid covering the reference field of view (same world frame)."""
    grid = reference_grid()
    extent = np.asarray(grid.GetSize()) * np.asarray(grid.GetSpacing())
    size = np.ceil(extent / REGISTRATION_SPACING_MM).astype(int)
    direction = np.asarray(grid.GetDirection()).reshape(3, 3)
    first_corner = np.asarray(grid.GetOrigin()) - direction @ (0.5 * np.asarray(grid.GetSpacing()))
    out = sitk.Image(size.tolist(), sitk.sitkFloat32)
    out.SetSpacing([REGISTRATION_SPACING_MM] * 3)
    out.SetDirection(grid.GetDirection())
    out.SetOrigin((first_corner + direction @ np.full(3, REGISTRATION_SPACING_MM / 2)).tolist())
    return out


@functools.lru_cache(maxsize=1)
def _template_maps() -> tuple[sitk.Image, sitk.Image]:
    """(DWI-like contrast, brain mask as float) on the 1 mm template grid."""
    folder = template_folder()
    images = {key: sitk.ReadImage(str(folder / name)) for key, name in TEMPLATE_FILES.items()}
    maps = {key: sitk.GetArrayFromImage(img).astype(np.float32) / 255.0 for key, img in images.items()}
    brain = (maps["t1"] > BRAIN_THRESHOLD).astype(np.float32)
    csf = np.clip(1.0 - maps["gm"] - maps["wm"], 0.0, 1.0) * brain
    contrast = (
        maps["gm"] * TISSUE_DWI["gm"] + maps["wm"] * TISSUE_DWI["wm"] + csf * TISSUE_DWI["csf"]
    ) * brain
    dwi, mask = sitk.GetImageFromArray(contrast), sitk.GetImageFromArray(brain)
    dwi.CopyInformation(images["t1"])
    mask.CopyInformation(images["t1"])
    return dwi, mask


def _slice_profile(image: sitk.Image, fwhm_mm: float) -> sitk.Image:
    # The templates are axis-aligned (RAS), so the inferior-superior axis is image axis 2.
    return sitk.RecursiveGaussian(image, sigma=fwhm_mm * _FWHM_TO_SIGMA, direction=2)


@functools.lru_cache(maxsize=1)
def _reference_pair() -> tuple[sitk.Image, sitk.Image]:
    dwi, brain = _template_maps()
    slice_mm = reference.SPACING_XYZ[2]
    grid = reference_grid()
    dwi_ref = sitk.Resample(_slice_profile(dwi, slice_mm), grid, sitk.Transform(), sitk.sitkLinear, 0.0)
    mask = sitk.Resample(_slice_profile(brain, slice_mm), grid, sitk.Transform(), sitk.sitkLinear, 0.0)
    mask = sitk.Cast(mask >= 0.5, sitk.sitkUInt8)
    return sitk.Mask(dwi_ref, mask), mask


@functools.lru_cache(maxsize=1)
def _registration_pair() -> tuple[sitk.Image, sitk.Image]:
    dwi, brain = _template_maps()
    grid = registration_grid()
    sigma = np.sqrt(REGISTRATION_SPACING_MM**2 - 1.0) * _FWHM_TO_SIGMA
    smooth = sitk.SmoothingRecursiveGaussian(dwi, float(sigma))
    target = sitk.Resample(smooth, grid, sitk.Transform(), sitk.sitkLinear, 0.0)
    mask = sitk.Resample(brain, grid, sitk.Transform(), sitk.sitkLinear, 0.0) >= 0.5
    return target, sitk.Cast(mask, sitk.sitkUInt8)


def image() -> sitk.Image:
    """The reference DWI on the reference grid (float32, 0 outside the brain)."""
    return sitk.Image(_reference_pair()[0])


def brain_mask() -> sitk.Image:
    """The reference brain mask on the reference grid (uint8)."""
    return sitk.Image(_reference_pair()[1])


def registration_target() -> tuple[sitk.Image, sitk.Image]:
    """(reference DWI, brain mask) on the 2 mm isotropic registration grid."""
    target, mask = _registration_pair()
    return sitk.Image(target), sitk.Image(mask)
