"""Mapping files between native and reference space with a saved registration (``isla to-native``).

Example:
    >>> map_file_to_native("prob.nii.gz", "transforms/c.json", "mask.nii.gz", kind="mask")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

from isla_nnunet.io.images import check_image_path, read_image, write_image
from isla_nnunet.preprocessing.registration import Registration


def map_file_to_native(
    image: str | os.PathLike, transform: str | os.PathLike, output: str | os.PathLike, kind: str = "mask",
    keep_small_lesions: bool = False,
) -> Path:
    """Read a reference-grid image, map it to the native DWI grid of ``transform`` and write ``output``.

    Args:
        image: probability map or mask on the reference grid.
        transform: JSON written by :meth:`Registration.save` (``transforms/CASE.json`` of a dataset).
        output: destination file (any format SimpleITK writes).
        kind: "mask" (linear interpolation, > 0.5; uint8) or "probability" (float32).
        keep_small_lesions: masks only: re-add one voxel for each component lost in resampling.

    Raises:
        ISLAError: unreadable files, an image not on the reference grid, a file that is no transform,
            or an ``output`` name without an image suffix.
    """
    check_image_path(output)
    registration = Registration.load(transform)
    return write_image(registration.to_native(read_image(image), kind=kind, keep_small_lesions=keep_small_lesions),
                       output)


def map_file_to_reference(
    image: str | os.PathLike, transform: str | os.PathLike, output: str | os.PathLike, kind: str = "image"
) -> Path:
    """Read a native-grid image or mask, map it to the reference grid and write ``output``.

    Args:
        kind: "image" (linear, float32) or "mask" (partial-volume fraction >= 0.5, small lesions kept).
    """
    registration = Registration.load(transform)
    return write_image(registration.to_reference(read_image(image), kind=kind), output)
