"""Image grids and rigid head poses of simulated cases.

A simulated subject's anatomy lives in the reference world (MNI152 millimetres, RAS+), the same world
as the ISLA reference grid. A :class:`RigidPose` moves the head into the scanner world, and a
:class:`Grid` samples the scanner world. Native grids are axis-aligned LAS boxes centred on
:data:`isla_nnunet.reference.CENTER_RAS_MM`, so the pose alone decides how the head sits in the image.

Example:
    >>> import numpy as np
    >>> from isla_nnunet.simulation.geometry import RigidPose, get_grid
    >>> get_grid("isles22").shape_xyz
    (112, 112, 73)
    >>> pose = RigidPose(rotation_deg=(10.0, 0.0, 0.0), translation_mm=(0.0, 5.0, 0.0))
    >>> np.allclose(pose.matrix() @ pose.inverse_matrix(), np.eye(4))
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from isla_nnunet import reference
from isla_nnunet.errors import ISLAError


@dataclass(frozen=True)
class Grid:
    """An axis-aligned LAS voxel grid: shape and spacing in (x, y, z) order, spacing in mm."""

    name: str
    shape_xyz: tuple[int, int, int]
    spacing_xyz: tuple[float, float, float]

    @property
    def is_reference(self) -> bool:
        return self.shape_xyz == reference.SHAPE_XYZ and bool(
            np.allclose(self.spacing_xyz, reference.SPACING_XYZ, atol=reference.SPACING_TOLERANCE_MM)
        )

    @property
    def voxel_volume_ml(self) -> float:
        return float(np.prod(self.spacing_xyz)) / 1000.0

    def affine(self) -> np.ndarray:
        """4x4 voxel-to-world (RAS+) affine; the reference grid's comes from :mod:`isla_nnunet.reference`."""
        if self.is_reference:
            return reference.affine()
        # Same convention as the reference grid (LAS, centred on the brain centre) for any shape/spacing.
        scales = np.array([-1.0, 1.0, 1.0]) * np.asarray(self.spacing_xyz, dtype=float)
        out = np.eye(4)
        out[:3, :3] = np.diag(scales)
        out[:3, 3] = np.asarray(reference.CENTER_RAS_MM) - scales * (np.asarray(self.shape_xyz) - 1) / 2.0
        return out


GRIDS: dict[str, Grid] = {
    grid.name: grid
    for grid in (
        Grid("reference", reference.SHAPE_XYZ, reference.SPACING_XYZ),
        # ISLES'22 DWI/ADC as distributed: 2 mm isotropic (checked on case 0009 in ../shared/data).
        Grid("isles22", (112, 112, 73), (2.0, 2.0, 2.0)),
        # SOOP trace DWI/ADC: 256 x 256 x 26, 0.898 x 0.898 mm in-plane, 6 mm slices (subject 3).
        Grid("soop", (256, 256, 26), (0.898, 0.898, 6.0)),
    )
}


def get_grid(grid: str | Grid) -> Grid:
    """Look a grid up by name (``"reference"``, ``"isles22"``, ``"soop"``) or pass a :class:`Grid` through."""
    if isinstance(grid, Grid):
        return grid
    if grid not in GRIDS:
        raise ISLAError(f"unknown simulation grid {grid!r}; use one of {', '.join(GRIDS)} or pass a Grid")
    return GRIDS[grid]


def _rotation(rotation_deg) -> np.ndarray:
    ax, ay, az = np.deg2rad(np.asarray(rotation_deg, dtype=float))
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


@dataclass(frozen=True)
class RigidPose:
    """Where the head sits in the scanner: a rotation about the brain centre, then a translation.

    ``rotation_deg`` = (about x: pitch/nodding, about y: roll, about z: yaw), applied in that order;
    ``translation_mm`` is in the world's RAS+ axes. :meth:`matrix` maps reference-world (MNI) points to
    scanner-world points; a registration of the native image to the reference grid should recover
    :meth:`inverse_matrix`.
    """

    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    translation_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @classmethod
    def random(cls, rng: np.random.Generator, max_rotation_deg, max_translation_mm) -> RigidPose:
        """Uniform draw within +-``max_rotation_deg`` and +-``max_translation_mm`` per axis."""
        rot = rng.uniform(-1.0, 1.0, 3) * np.asarray(max_rotation_deg, dtype=float)
        trans = rng.uniform(-1.0, 1.0, 3) * np.asarray(max_translation_mm, dtype=float)
        return cls(tuple(float(v) for v in rot), tuple(float(v) for v in trans))

    def matrix(self) -> np.ndarray:
        """4x4 map from reference-world (MNI, RAS+ mm) to scanner-world coordinates."""
        centre = np.asarray(reference.CENTER_RAS_MM, dtype=float)
        rot = _rotation(self.rotation_deg)
        out = np.eye(4)
        out[:3, :3] = rot
        out[:3, 3] = centre + np.asarray(self.translation_mm, dtype=float) - rot @ centre
        return out

    def inverse_matrix(self) -> np.ndarray:
        """4x4 map from scanner-world to reference-world coordinates."""
        return np.linalg.inv(self.matrix())

    def to_dict(self) -> dict:
        return {
            "rotation_deg": list(self.rotation_deg),
            "translation_mm": list(self.translation_mm),
            "rotation_centre_mm": list(reference.CENTER_RAS_MM),
            "reference_to_scanner": self.matrix().round(6).tolist(),
        }
