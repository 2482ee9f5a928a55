"""Small builders shared by the evaluation tests."""

from __future__ import annotations

import numpy as np

ISLES_MASKS = {
    # file (under isles22/) -> (volume in ml, lesions with 26-connectivity), from shared/data/SOURCES.md
    "masks_only/sub-strokecase0002_ses-0001_dwi.nii.gz": (0.944, 1),
    "masks_only/sub-strokecase0003_ses-0001_dwi.nii.gz": (30.984, 46),
    "masks_only/38496fea-2c64-4afe-9c42-d4d527191040.mha": (2.248, 8),
    "masks_only/717ee719-0701-4fb3-9c69-52a7dbaa5e56.mha": (5.824, 8),
    "sub-strokecase0009/sub-strokecase0009_ses-0001_msk.nii.gz": (4.184, 18),
}


def volume(shape, *voxels) -> np.ndarray:
    """Bool array of ``shape`` with the given (z, y, x) voxels set."""
    out = np.zeros(shape, dtype=bool)
    for voxel in voxels:
        out[tuple(voxel)] = True
    return out
