"""Voxel grids: comparing them, checking that two scans overlap, resampling, and saving them as JSON.

SimpleITK describes a grid by size, spacing, origin and direction in LPS world coordinates; nibabel
affines are RAS. Both conventions appear in this project (the reference grid is defined as a RAS
affine in :mod:`isla_nnunet.reference`), so the conversion lives here and nowhere else.

Example:
    >>> import SimpleITK as sitk
    >>> a = sitk.Image(4, 4, 4, sitk.sitkFloat32)
    >>> same_grid(a, sitk.Image(a))
    True
    >>> grid_from_dict(grid_to_dict(a)).GetSize()
    (4, 4, 4)
"""

from __future__ import annotations

import itertools

import numpy as np
import SimpleITK as sitk

# Two headers describe "the same grid" when every corner voxel centre agrees within this fraction of
# the smallest voxel size: absorbs float32 qform/sform rounding (1e-5 mm on real files), not real shifts.
SAME_GRID_VOXEL_FRACTION = 0.1

_LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0])


def image_from_ras_affine(affine: np.ndarray, size_xyz, pixel_type=sitk.sitkFloat32) -> sitk.Image:
    """Empty SimpleITK image whose grid is the nibabel (RAS+) ``affine`` with ``size_xyz`` voxels."""
    affine = np.asarray(affine, dtype=float)
    lps = _LPS_FROM_RAS @ affine[:3, :3]
    spacing = np.linalg.norm(lps, axis=0)
    image = sitk.Image([int(s) for s in size_xyz], pixel_type)
    image.SetSpacing(spacing.tolist())
    image.SetDirection((lps / spacing).flatten().tolist())
    image.SetOrigin((_LPS_FROM_RAS @ affine[:3, 3]).tolist())
    return image


def ras_affine(image: sitk.Image) -> np.ndarray:
    """4x4 nibabel-style (RAS+) voxel-to-world affine of a 3-D SimpleITK image."""
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    out = np.eye(4)
    out[:3, :3] = _LPS_FROM_RAS @ direction @ np.diag(image.GetSpacing())
    out[:3, 3] = _LPS_FROM_RAS @ np.asarray(image.GetOrigin())
    return out


def corner_points(image: sitk.Image) -> np.ndarray:
    """World (LPS) positions of the 8 corner voxel centres, shape (8, 3)."""
    size = image.GetSize()
    corners = itertools.product(*[(0, s - 1) for s in size])
    return np.array(
        [image.TransformContinuousIndexToPhysicalPoint([float(c) for c in idx]) for idx in corners]
    )


def same_grid(a: sitk.Image, b: sitk.Image) -> bool:
    """True when ``a`` and ``b`` have the same size and their corner voxel centres coincide.

    The tolerance is :data:`SAME_GRID_VOXEL_FRACTION` of the smallest voxel edge of ``a``.
    """
    if a.GetSize() != b.GetSize():
        return False
    tolerance = SAME_GRID_VOXEL_FRACTION * min(a.GetSpacing())
    return bool(np.max(np.linalg.norm(corner_points(a) - corner_points(b), axis=1)) <= tolerance)


def coverage(grid: sitk.Image, image: sitk.Image, samples_per_axis: int = 12) -> float:
    """Fraction of ``grid``'s field of view that lies inside ``image``'s field of view (0..1).

    Measured on a regular lattice of ``samples_per_axis``^3 voxel centres of ``grid``, which is
    plenty to tell "the same scan, another grid" (close to 1) from "another body part" (close to 0).
    """
    axes = [np.linspace(0, s - 1, min(samples_per_axis, s)) for s in grid.GetSize()]
    inside = total = 0
    upper = np.asarray(image.GetSize()) - 0.5
    for idx in itertools.product(*axes):
        point = grid.TransformContinuousIndexToPhysicalPoint([float(i) for i in idx])
        cidx = np.asarray(image.TransformPhysicalPointToContinuousIndex(point))
        inside += bool(np.all(cidx >= -0.5) and np.all(cidx <= upper))
        total += 1
    return inside / total


def resample(
    image: sitk.Image,
    grid: sitk.Image,
    interpolator=sitk.sitkLinear,
    transform: sitk.Transform | None = None,
    default: float = 0.0,
) -> sitk.Image:
    """``image`` resampled onto ``grid`` (float32); ``transform`` maps grid points to ``image`` points."""
    return sitk.Resample(
        sitk.Cast(image, sitk.sitkFloat32),
        grid,
        transform or sitk.Transform(),
        interpolator,
        default,
        sitk.sitkFloat32,
    )


def copy_grid(image: sitk.Image, grid: sitk.Image) -> sitk.Image:
    """``image`` with the header of ``grid`` (same size required); removes header rounding noise."""
    out = sitk.Image(image)
    out.CopyInformation(grid)
    return out


def grid_to_dict(image: sitk.Image) -> dict:
    """JSON-ready description of a 3-D grid (LPS, as SimpleITK), with the RAS affine for readers."""
    return {
        "size_xyz": list(image.GetSize()),
        "spacing_xyz": list(image.GetSpacing()),
        "origin_lps": list(image.GetOrigin()),
        "direction_lps": list(image.GetDirection()),
        "affine_ras": ras_affine(image).tolist(),
    }


def grid_from_dict(data: dict, pixel_type=sitk.sitkFloat32) -> sitk.Image:
    """Empty image on the grid written by :func:`grid_to_dict` (exact: floats survive JSON)."""
    image = sitk.Image([int(s) for s in data["size_xyz"]], pixel_type)
    image.SetSpacing([float(v) for v in data["spacing_xyz"]])
    image.SetOrigin([float(v) for v in data["origin_lps"]])
    image.SetDirection([float(v) for v in data["direction_lps"]])
    return image
