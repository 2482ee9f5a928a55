"""Converting one case: native files -> reference-grid nnU-Net images, label, transform and QC.

Steps: :func:`isla_nnunet.io.load_case` -> brain mask (:func:`extract_brain`) -> rigid registration of
the brain-masked DWI (:func:`register_to_reference`) -> DWI and ADC linearly resampled to the reference
grid, clipped at 0 and multiplied by the brain mask mapped with the mask rule -> lesion mask mapped with
the mask rule -> QC score and picture -> files written atomically, the transform last (it marks the case
finished for resumed runs).

Written intensities: float32, DWI as read (arbitrary scanner units), ADC in 1e-6 mm^2/s, both 0 outside
the brain; nnU-Net's z-score normalisation with ``use_mask_for_norm`` sees only brain voxels.

On the native grid (``folder.grid == "native"``, ``isla convert --grid native``) the registration
and its QC are skipped: DWI, ADC (already on the DWI grid, :func:`load_case`) and lesion mask are
written on the case's own DWI grid, clipped at 0 and multiplied by the brain mask, and the case's
record (``transforms/CASE.json``) holds what was read, without a transform.

Example:
    >>> result = convert_case(spec, DatasetFolder("nnUNet_raw/Dataset101_ISLES22"))  # doctest: +SKIP
    >>> result.status, round(result.qc_score, 2)  # doctest: +SKIP
    ('converted', 0.49)
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass

import numpy as np
import SimpleITK as sitk

from isla_nnunet.conversion.cases import CaseSpec
from isla_nnunet.conversion.dataset import DatasetFolder
from isla_nnunet.conversion.qc import NCC_THRESHOLD, registration_score, write_qc_png
from isla_nnunet.io.atomic import write_text_atomic
from isla_nnunet.io.case import load_case
from isla_nnunet.io.images import write_image
from isla_nnunet.io.masks import load_mask
from isla_nnunet.io.pairing import check_mask_inside, mask_fit
from isla_nnunet.preprocessing.brain_extraction import extract_brain, resolve_method
from isla_nnunet.preprocessing.registration import register_to_reference


@dataclass
class CaseResult:
    """Outcome of one case: status "converted", "skipped" (already done) or "failed"."""

    case_id: str
    role: str
    status: str
    seconds: float = 0.0
    qc_score: float | None = None
    qc_flagged: bool = False
    brain_method: str | None = None
    error: str | None = None
    mask_contrast: float | None = None
    mask_flagged: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def masked_nonnegative(image: sitk.Image, mask: sitk.Image) -> sitk.Image:
    """``image`` as float32 with negatives (interpolation undershoot) clipped to 0 and 0 outside ``mask``.

    Training data (``isla convert``) and prediction (``isla predict``) prepare images with this same
    function, so a model sees at prediction what it saw in training.
    """
    array = np.clip(sitk.GetArrayFromImage(image), 0.0, None) * (sitk.GetArrayViewFromImage(mask) > 0)
    out = sitk.GetImageFromArray(array.astype(np.float32))
    out.CopyInformation(image)
    return out


def convert_case(
    spec: CaseSpec,
    folder: DatasetFolder,
    brain_method: str | os.PathLike = "auto",
    qc_threshold: float = NCC_THRESHOLD,
    binarize_masks: bool = False,
) -> CaseResult:
    """Convert one case into ``folder``; errors are raised (the runner turns them into failures).

    Args:
        spec: the case's files and role.
        folder: destination dataset.
        brain_method: brain extraction method or mask path, used when ``spec.brain`` is None.
        qc_threshold: NCC below which the case is flagged.
        binarize_masks: count every lesion-mask value > 0 as lesion (default: only 0/1 masks).

    Raises:
        isla_nnunet.errors.ISLAError: any user-fixable problem with the case's files.
    """
    start = time.perf_counter()
    case = load_case(spec.dwi, adc=spec.adc, b0=spec.b0, case_id=spec.case_id)
    method = resolve_method(case, spec.brain or brain_method)
    brain = extract_brain(case, method)
    lesion = fit = None
    if spec.role == "train":
        lesion = load_mask(spec.lesion, case.dwi, name="lesion mask", any_positive=binarize_masks)
        fit = check_mask_inside(mask_fit(case.dwi, lesion), f"lesion mask {spec.lesion}")
    info = {"case": case.metadata(), "role": spec.role, "brain_method": os.fspath(method), "lesion": spec.lesion,
            "lesion_fit": None if fit is None or not fit.checked else {
                "inside_head": fit.inside, "dwi_contrast": fit.contrast, "flagged": fit.low_contrast}}
    if folder.grid == "native":
        result = _write_native(spec, folder, case, brain, lesion, info)
    else:
        result = _write_reference(spec, folder, case, brain, lesion, info, qc_threshold)
    result.brain_method = os.fspath(method)
    if fit is not None and fit.checked:
        result.mask_contrast, result.mask_flagged = round(fit.contrast, 3), fit.low_contrast
    result.seconds = time.perf_counter() - start
    return result


def _write_reference(spec: CaseSpec, folder: DatasetFolder, case, brain: sitk.Image, lesion: sitk.Image | None,
                     info: dict, qc_threshold: float) -> CaseResult:
    registration = register_to_reference(case, brain)
    brain_ref = registration.to_reference(brain, kind="mask")
    dwi_ref = masked_nonnegative(registration.to_reference(case.dwi), brain_ref)
    adc_ref = masked_nonnegative(registration.to_reference(case.adc), brain_ref)

    ones = sitk.Image(case.dwi.GetSize(), sitk.sitkFloat32) + 1.0
    ones.CopyInformation(case.dwi)
    coverage = registration.to_reference(ones) > 0.5
    score = registration_score(dwi_ref, coverage)
    flagged = score < qc_threshold
    write_qc_png(
        dwi_ref,
        folder.qc_path(spec.case_id),
        title=f"{spec.case_id}   NCC {score:.2f}" + ("   FLAGGED" if flagged else ""),
    )

    dwi_path, adc_path = folder.image_paths(spec.case_id, spec.role)
    write_image(dwi_ref, dwi_path)
    write_image(adc_ref, adc_path)
    if lesion is not None:
        write_image(registration.to_reference(lesion, kind="mask"), folder.label_path(spec.case_id))
    registration.info = {**info, "qc": {"ncc": score, "threshold": qc_threshold, "flagged": flagged}}
    registration.save(folder.transform_path(spec.case_id))  # last: it marks the case finished
    return CaseResult(spec.case_id, spec.role, "converted", qc_score=score, qc_flagged=flagged)


def _write_native(spec: CaseSpec, folder: DatasetFolder, case, brain: sitk.Image, lesion: sitk.Image | None,
                  info: dict) -> CaseResult:
    dwi_path, adc_path = folder.image_paths(spec.case_id, spec.role)
    write_image(masked_nonnegative(case.dwi, brain), dwi_path)
    write_image(masked_nonnegative(case.adc, brain), adc_path)
    if lesion is not None:
        write_image(sitk.Cast(lesion > 0, sitk.sitkUInt8), folder.label_path(spec.case_id))
    path = folder.transform_path(spec.case_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"info": {**info, "grid": "native", "spacing_xyz": list(case.dwi.GetSpacing())}}
    write_text_atomic(path, json.dumps(record, indent=1) + "\n")  # last: it marks the case finished
    return CaseResult(spec.case_id, spec.role, "converted")
