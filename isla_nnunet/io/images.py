"""Reading and writing scan files: NIfTI, MetaImage, NRRD and DICOM series folders.

Rules:
- Every reader returns 3-D SimpleITK images. A 4-D file with a trailing axis of length 1 (common in
  BIDS datasets such as SOOP) is one volume; a 4-D file with several volumes returns them all and the
  caller decides which one it wants (see :mod:`isla_nnunet.io.bvalues`).
- A folder is read as a DICOM series (see :mod:`isla_nnunet.io.dicom`).
- A NIfTI file is checked first (:mod:`isla_nnunet.io.nifti_header`): cut short, damaged or without a
  voxel size is an error; in a scaled integer file, values within half a scale step of 0 are 0.
- Writes are atomic: a temporary file in the destination folder is renamed over the target, so an
  interrupted run never leaves a half-written image that a resumed run would take as finished.

Example:
    >>> import tempfile, pathlib, SimpleITK as sitk
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.nii.gz"
    >>> _ = write_image(sitk.Image(3, 3, 3, sitk.sitkUInt8), path)
    >>> read_image(path).GetSize()
    (3, 3, 3)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.io.atomic import atomic_output
from isla_nnunet.io.dicom import read_dicom_volumes
from isla_nnunet.io.nifti_header import check_nifti, is_nifti, quantization_step

IMAGE_SUFFIXES = (".nii.gz", ".nii", ".mha", ".mhd", ".nrrd", ".nhdr")


def image_suffix(path: str | os.PathLike) -> str:
    """The image-format suffix of ``path`` ('.nii.gz', '.mha', ...) or '' when it has none we read."""
    name = Path(path).name.lower()
    return next((s for s in IMAGE_SUFFIXES if name.endswith(s)), "")


def read_volumes(path: str | os.PathLike) -> list[sitk.Image]:
    """All 3-D volumes stored in ``path`` (a file or a DICOM series folder), in file order.

    Args:
        path: .nii/.nii.gz/.mha/.mhd/.nrrd/.nhdr file, or a folder holding one DICOM series.

    Raises:
        ISLAError: the path is missing, has an unknown format, cannot be read or is not 3-D/4-D.
    """
    path = Path(path)
    if not path.exists():
        raise ISLAError(f"{path} does not exist: check the path")
    if path.is_dir():
        return [volume for volume, _ in read_dicom_volumes(path)]
    if not image_suffix(path):
        raise ISLAError(
            f"{path.name} has an unknown image format: give NIfTI (.nii, .nii.gz), .mha/.mhd, .nrrd "
            "or a DICOM series folder"
        )
    facts = check_nifti(path) if is_nifti(path) else None
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as err:
        text = str(err).strip()
        first_line = text.splitlines()[-1][:200] if text else "unreadable"
        if "orthonormal" in text or "orthogonal" in text:
            raise ISLAError(f"cannot read {path}: its orientation matrix is sheared (not orthonormal), which "
                            "ITK cannot represent; resample it onto an orthogonal grid first") from None
        raise ISLAError(f"cannot read {path} ({first_line}): check that the file is complete") from None
    step = quantization_step(facts) if facts is not None else 0.0
    if step > 0:
        image = _zero_below(image, step / 2)
    return split_volumes(image, str(path))


def _zero_below(image: sitk.Image, tolerance: float) -> sitk.Image:
    # scl_slope/scl_inter are applied in floating point: the stored integer meaning 0 comes back as
    # e.g. -1.5e-7, which "background is 0" rules (brain masks, skull-stripped detection) must see as 0.
    array = sitk.GetArrayFromImage(image)
    array[np.abs(array) < tolerance] = 0
    snapped = sitk.GetImageFromArray(array, isVector=image.GetNumberOfComponentsPerPixel() > 1)
    snapped.CopyInformation(image)
    return snapped


def split_volumes(image: sitk.Image, name: str) -> list[sitk.Image]:
    """3-D volumes of a 3-D, 4-D or multi-component image (``name`` only serves error messages)."""
    if image.GetNumberOfComponentsPerPixel() > 1:
        return [
            split_volumes(sitk.VectorIndexSelectionCast(image, i), name)[0]
            for i in range(image.GetNumberOfComponentsPerPixel())
        ]
    if image.GetDimension() == 3:
        return [image]
    if image.GetDimension() == 4:
        size = list(image.GetSize())
        extract_size = size[:3] + [0]
        return [sitk.Extract(image, extract_size, [0, 0, 0, t]) for t in range(size[3])]
    raise ISLAError(f"{name} is a {image.GetDimension()}-D image: give a 3-D volume (or a 4-D series)")


def read_image(path: str | os.PathLike) -> sitk.Image:
    """The single 3-D volume in ``path``.

    Raises:
        ISLAError: as :func:`read_volumes`, or the file holds several volumes.
    """
    volumes = read_volumes(path)
    if len(volumes) != 1:
        raise ISLAError(
            f"{Path(path).name} holds {len(volumes)} volumes where one 3-D image was expected: "
            "pass a single volume"
        )
    return volumes[0]


def check_image_path(path: str | os.PathLike) -> Path:
    """``path`` if its name ends in an image format this package writes, else raise.

    Raises:
        ISLAError: another suffix (``x.json``, ``x.png``, none).
    """
    if not image_suffix(path):
        raise ISLAError(f"{Path(path).name} is not an image file name: end it with "
                        f"{', '.join(IMAGE_SUFFIXES)}")
    return Path(path)


def write_image(image: sitk.Image, path: str | os.PathLike) -> Path:
    """Write ``image`` atomically (compressed when the format allows) and return the path.

    Raises:
        ISLAError: a name without an image suffix, ITK could not write it, or wrote less than the
            whole image (its NIfTI writer reports a short write, e.g. on a full disk, without
            raising); ``path`` is then untouched.
    """
    check_image_path(path)
    with atomic_output(path) as tmp:
        try:
            sitk.WriteImage(image, str(tmp), useCompression=True)
        except RuntimeError as err:
            text = str(err).strip()
            raise ISLAError(f"cannot write {path} ({text.splitlines()[-1][:160] if text else 'ITK error'}): "
                            "check free space and permissions") from None
        if is_nifti(tmp):
            try:
                check_nifti(tmp)
            except ISLAError:
                raise ISLAError(f"writing {path} stopped short (the disk may be full): free space and run "
                                "the command again") from None
        elif not tmp.is_file() or tmp.stat().st_size == 0:
            raise ISLAError(f"writing {path} produced no data (the disk may be full): free space and run "
                            "the command again")
    return Path(path)
