"""Balanced training patches of Clèrigues et al. (2019), §3.3 and Figure 3.

Per case a target number of patches: half centred on healthy brain voxels taken at regular spatial
steps, so that every part of the brain is represented; half centred on lesion voxels, also taken at
regular steps through the lesion, each moved by a random offset of up to half the patch size so that
the tissue around the lesion (the oligemia) is represented too while the sampled voxel stays inside the
patch. A case whose lesion has fewer voxels than lesion patches are wanted reuses its voxels; the
random offset and one of five anatomically plausible transforms of every lesion patch (identity, a
sagittal reflection, axial rotations by 90, 180 and 270 degrees) make the repeats differ.

Arrays are in nnU-Net's array order (z, y, x): axial rotations turn the (y, x) plane, a sagittal
reflection flips x. The rotations need a square in-plane patch (24 x 24 in the paper).

Example:
    >>> import numpy as np
    >>> label = np.zeros((8, 32, 32), np.int8)       # 0: healthy brain
    >>> label[:, :, :4] = -1                         # outside the brain
    >>> label[3:5, 10:14, 10:14] = 1                 # 32 lesion voxels
    >>> plan = plan_patches(label, 20, (4, 8, 8), np.random.default_rng(0))
    >>> int(plan.on_lesion.sum()), int((~plan.on_lesion).sum())
    (10, 10)
    >>> bool((label[tuple(plan.sampled_voxels[plan.on_lesion].T)] == 1).all())
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# identity, sagittal reflection (x), axial rotations of the (y, x) plane by 90, 180, 270 degrees
LESION_TRANSFORMS = ("identity", "sagittal-flip", "rot90", "rot180", "rot270")


@dataclass(frozen=True)
class PatchPlan:
    """The patches of one case: where each is centred, what it was sampled from, how it is transformed.

    Attributes:
        centres: (N, 3) voxel index of each patch's centre, (z, y, x).
        sampled_voxels: (N, 3) the voxel each patch was drawn for (equal to the centre for healthy
            patches; within half a patch of it for lesion patches).
        on_lesion: (N,) True for lesion patches.
        transforms: (N,) index into :data:`LESION_TRANSFORMS` (always 0, identity, for healthy patches).
    """

    centres: np.ndarray
    sampled_voxels: np.ndarray
    on_lesion: np.ndarray
    transforms: np.ndarray

    def __len__(self) -> int:
        return len(self.centres)


def regular_subset(voxels: np.ndarray, count: int) -> np.ndarray:
    """``count`` rows of ``voxels`` at equal steps through them (with repeats when there are fewer).

    ``voxels`` come in raster order (``np.argwhere``), so equal steps through the list are regular
    steps through space. Raises ValueError for an empty ``voxels`` when ``count`` > 0.
    """
    if count == 0:
        return voxels[:0]
    if len(voxels) == 0:
        raise ValueError("no voxels to sample patches from")
    positions = (np.arange(count) * len(voxels)) // count if count <= len(voxels) else np.arange(count) % len(voxels)
    return voxels[positions]


def lesion_offsets(count: int, patch_size: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    """(count, 3) random offsets with the sampled voxel still inside the patch.

    A patch of size p centred at c covers ``[c - p // 2, c - p // 2 + p)``; with the offset o the voxel
    v = c - o is inside it for ``-(p - p // 2) < o <= p // 2``. The bound is taken symmetric,
    ``|o| <= (p - 1) // 2`` (11 voxels for p = 24, 7 for p = 16).
    """
    half = np.array([(p - 1) // 2 for p in patch_size])
    return rng.integers(-half, half + 1, size=(count, len(patch_size)))


def plan_patches(label: np.ndarray, n_patches: int, patch_size: Sequence[int], rng: np.random.Generator,
                 lesion_fraction: float = 0.5) -> PatchPlan:
    """The balanced patches of one case.

    Args:
        label: (z, y, x) integer label map: 1 lesion, 0 healthy brain, negative outside the brain
            (nnU-Net's preprocessed segmentation marks voxels outside the brain's box with -1).
        n_patches: patches wanted for this case.
        patch_size: (z, y, x) patch size; lesion patches are rotated in-plane only when y == x.
        rng: random generator for the lesion offsets and transforms.
        lesion_fraction: share of lesion patches (the paper: 0.5). A case without lesion gets healthy
            patches only.

    Raises:
        ValueError: a label that is not 3-D, a patch size of another length, no healthy brain voxel,
            or ``n_patches`` < 1.
    """
    if label.ndim != 3 or len(patch_size) != 3:
        raise ValueError(f"label and patch size must be 3-D (z, y, x), got {label.shape} and {tuple(patch_size)}")
    if n_patches < 1:
        raise ValueError(f"n_patches must be at least 1, got {n_patches}")
    lesion_voxels = np.argwhere(label == 1)
    healthy_voxels = np.argwhere(label == 0)
    if len(healthy_voxels) == 0:
        raise ValueError("the label has no healthy brain voxel (label 0) to centre patches on")
    n_lesion = int(round(n_patches * lesion_fraction)) if len(lesion_voxels) else 0
    healthy = regular_subset(healthy_voxels, n_patches - n_lesion)
    lesion = regular_subset(lesion_voxels, n_lesion)
    lesion_centres = lesion + lesion_offsets(n_lesion, patch_size, rng)
    square = patch_size[1] == patch_size[2]
    choices = len(LESION_TRANSFORMS) if square else 2   # without a square plane: identity or reflection
    transforms = np.concatenate([np.zeros(len(healthy), np.int64), rng.integers(0, choices, n_lesion)])
    return PatchPlan(centres=np.concatenate([healthy, lesion_centres]).astype(np.int64),
                     sampled_voxels=np.concatenate([healthy, lesion]).astype(np.int64),
                     on_lesion=np.concatenate([np.zeros(len(healthy), bool), np.ones(n_lesion, bool)]),
                     transforms=transforms)


def transform_patch(array, transform: int):
    """Apply :data:`LESION_TRANSFORMS` ``[transform]`` to a (..., z, y, x) numpy array or torch tensor."""
    name = LESION_TRANSFORMS[transform]
    is_numpy = isinstance(array, np.ndarray)
    if name == "identity":
        return array
    if name == "sagittal-flip":
        return np.flip(array, -1) if is_numpy else array.flip(-1)
    turns = {"rot90": 1, "rot180": 2, "rot270": 3}[name]
    return np.rot90(array, turns, axes=(-2, -1)) if is_numpy else array.rot90(turns, dims=(-2, -1))


def bounding_box(centre: Sequence[int], patch_size: Sequence[int]) -> tuple[list[int], list[int]]:
    """Lower and upper (exclusive) corners of the patch centred at ``centre``, as nnU-Net's ``get_bbox``."""
    lower = [int(c) - p // 2 for c, p in zip(centre, patch_size, strict=True)]
    return lower, [lo + p for lo, p in zip(lower, patch_size, strict=True)]
