"""Built-in offline brain extraction: the template brain mask mapped onto the head, refined on intensities.

Steps (all in the native DWI grid; radii in mm, converted per axis so 6 mm slices are handled):

1. Rigid registration of the whole-head DWI to the reference DWI (no brain mask); mutual information
   aligns the bright brain of a b1000 trace with the template brain, the dark skull doing the rest.
2. The MNI152 brain mask is mapped back (linear interpolation, > 0.5): the *prior*. The MNI brain is
   larger than most adult brains, so the prior overshoots into skull and scalp by a few mm.
3. Tissue = DWI above :data:`TISSUE_FRACTION` x the median DWI of the deep prior (the prior eroded by
   :data:`DEEP_EROSION_MM`), searched inside the prior dilated by :data:`SEARCH_MARGIN_MM`. In a b1000
   trace, skull and fat-suppressed scalp sit well below brain tissue (SOOP sub-3: outer shell of the
   prior median 80 against 630 in the deep brain).
4. Clean-up: an opening (:data:`OPENING_MM`) cuts thin bridges to the scalp, the component holding the
   most deep-prior voxels is kept, a closing (:data:`CLOSING_MM`) bridges sulcal CSF, holes (ventricles)
   are filled in 3-D and slice by slice.

Example:
    >>> mask = template_brain_mask(case)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.io.case import NativeCase
from isla_nnunet.io.masks import resample_mask
from isla_nnunet.preprocessing import reference_image
from isla_nnunet.preprocessing.registration import register_to_reference

TISSUE_FRACTION = 0.3
DEEP_EROSION_MM = 10.0
SEARCH_MARGIN_MM = 5.0
OPENING_MM = 2.0
CLOSING_MM = 4.0


def _radius(image: sitk.Image, mm: float) -> list[int]:
    return [int(round(mm / s)) for s in image.GetSpacing()]


def _largest_overlapping(mask: sitk.Image, seed: np.ndarray) -> sitk.Image:
    labels = sitk.GetArrayFromImage(sitk.ConnectedComponent(mask, True))
    counts = np.bincount(labels[seed], minlength=labels.max() + 1)
    counts[0] = 0
    if counts.max() == 0:
        return mask
    out = sitk.GetImageFromArray((labels == int(np.argmax(counts))).astype(np.uint8))
    out.CopyInformation(mask)
    return out


def _fill_holes(mask: sitk.Image) -> sitk.Image:
    filled = sitk.BinaryFillhole(mask, fullyConnected=False)
    array = sitk.GetArrayFromImage(filled)
    for z in range(array.shape[0]):
        plane = sitk.GetImageFromArray(array[z])
        array[z] = sitk.GetArrayFromImage(sitk.BinaryFillhole(plane, fullyConnected=False))
    out = sitk.GetImageFromArray(array)
    out.CopyInformation(mask)
    return out


def prior_brain_mask(case: NativeCase) -> sitk.Image:
    """The reference brain mask mapped onto the native DWI grid after a whole-head registration."""
    registration = register_to_reference(case, brain_mask=None)
    _, template_mask = reference_image.registration_target()
    return resample_mask(
        template_mask,
        registration.native_grid,
        registration.transform.GetInverse(),
        partial_volume=False,
        keep_small_lesions=False,
    )


def refine_on_intensity(dwi: sitk.Image, prior: sitk.Image) -> sitk.Image:
    """Brain mask from a template ``prior`` and the DWI intensities (steps 3 and 4 of the module doc).

    Raises:
        ISLAError: the prior holds no brain (registration went astray or the DWI shows no head).
    """
    dwi_array = sitk.GetArrayViewFromImage(dwi)
    prior = sitk.Cast(prior, sitk.sitkUInt8)
    deep = sitk.GetArrayFromImage(sitk.BinaryErode(prior, _radius(prior, DEEP_EROSION_MM))) > 0
    if deep.sum() < 100:
        raise ISLAError(
            "the template brain mask does not land on the DWI: check the DWI (it must show the head), "
            "or give a brain mask"
        )
    threshold = TISSUE_FRACTION * float(np.median(dwi_array[deep]))
    search = sitk.GetArrayFromImage(sitk.BinaryDilate(prior, _radius(prior, SEARCH_MARGIN_MM))) > 0
    tissue = sitk.GetImageFromArray(((dwi_array > threshold) & search).astype(np.uint8))
    tissue.CopyInformation(dwi)
    opened = sitk.BinaryMorphologicalOpening(tissue, _radius(tissue, OPENING_MM))
    brain = _largest_overlapping(opened, deep)
    brain = sitk.BinaryMorphologicalClosing(brain, _radius(brain, CLOSING_MM))
    brain = _fill_holes(brain)
    return sitk.Cast(brain, sitk.sitkUInt8)


def template_brain_mask(case: NativeCase) -> sitk.Image:
    """Brain mask (uint8, native DWI grid) of a case whose DWI still shows skull and scalp."""
    return refine_on_intensity(case.dwi, prior_brain_mask(case))
