"""The ISLA reference grid: the one place that knows its shape, spacing and orientation.

ISLA (Roca et al., §3.2.1) registers every case rigidly to a reference DWI of 192 x 224 x 32 voxels
(x, y, z), LAS orientation, 0.9 x 0.9 mm in-plane and 6.0 mm slices. nnU-Net arrays and plans use the
reversed axis order (z, y, x); both orders are exposed here so that no other module re-derives them.

Example:
    >>> from isla_nnunet import reference
    >>> reference.SHAPE_ZYX, reference.SPACING_ZYX
    ((32, 224, 192), (6.0, 0.9, 0.9))
    >>> reference.affine()[:3, :3].diagonal().tolist()
    [-0.9, 0.9, 6.0]
"""

from __future__ import annotations

import numpy as np

SHAPE_XYZ: tuple[int, int, int] = (192, 224, 32)
SPACING_XYZ: tuple[float, float, float] = (0.9, 0.9, 6.0)
ORIENTATION = "LAS"

SHAPE_ZYX: tuple[int, int, int] = SHAPE_XYZ[::-1]
SPACING_ZYX: tuple[float, float, float] = SPACING_XYZ[::-1]

# World (RAS+, MNI152) position of the grid centre. Chosen so the field of view
# (172.8 x 201.6 x 192 mm) covers the MNI152 brain mask including the cerebellum.
CENTER_RAS_MM: tuple[float, float, float] = (0.0, -18.0, 6.0)

# ISLA clips the per-channel brain z-scores to this range before augmentation and inside the network
# (Roca et al., §3.2.1).
Z_SCORE_CLIP: tuple[float, float] = (-5.0, 5.0)

# Tolerances used when deciding whether an image already lies on the reference grid.
SPACING_TOLERANCE_MM = 0.02


def affine() -> np.ndarray:
    """4x4 voxel-to-world (RAS+) affine of the reference grid, as nibabel writes it."""
    axis_sign = np.array([-1.0 if ORIENTATION[0] == "L" else 1.0, 1.0, 1.0])
    scales = axis_sign * np.asarray(SPACING_XYZ)
    centre_voxel = (np.asarray(SHAPE_XYZ) - 1) / 2.0
    out = np.eye(4)
    out[:3, :3] = np.diag(scales)
    out[:3, 3] = np.asarray(CENTER_RAS_MM) - scales * centre_voxel
    return out


def is_reference_grid(shape_zyx, spacing_zyx) -> bool:
    """True when an nnU-Net-ordered (z, y, x) shape and spacing match the reference grid."""
    if tuple(int(s) for s in shape_zyx) != SHAPE_ZYX:
        return False
    return bool(np.allclose(spacing_zyx, SPACING_ZYX, atol=SPACING_TOLERANCE_MM))
