"""Segmentation metrics with ISLES'22 semantics, HD95 as ISLA defines it, voxel precision and recall.

Definitions (ISLA §3.3.1; Hernandez Petzsche et al., ISLES 2022, Sci Data 9:762; checked against the
organisers' evaluation code). ``pred`` and ``gt`` are binary arrays of the same shape, ``spacing`` the
voxel size in mm in the arrays' axis order:

- Dice = 2|P∩G| / (|P|+|G|); 1.0 when both masks are empty, 0.0 when exactly one is.
- AVD = | |G| - |P| | x voxel volume, in ml.
- ALD = |N_G - N_P|, lesions being 26-connected components.
- Lesion-wise F1 = TP / (TP + (FP+FN)/2): a GT lesion touching the prediction anywhere is a TP, the
  other GT lesions are FN, predicted lesions touching no GT voxel are FP; 1.0 when both are empty.
- HD95 = max(Q95{d(a, G) : a ∈ P}, Q95{d(b, P) : b ∈ G}) in mm, as ISLA writes it (§3.3.1): d(a, G) is
  the distance from voxel a to the nearest voxel of G (0 inside G), every voxel of each mask counts,
  and Q95 is the 95th percentile with linear interpolation. The maximum of the two directed
  percentiles, not the percentile of the pooled distances. Most other tools use the surface variant,
  ``hd95(..., variant="surface")``: the same formula over the surface voxels ∂P, ∂G (voxels with a
  6-neighbour outside the mask, the image border counting as outside) and distances between surfaces.
  Convention: 0.0 when both masks are empty (perfect agreement), NaN when exactly one is (no distance
  exists; ranking puts NaN last).
- Precision = |P∩G| / |P|, recall = |P∩G| / |G|; when the denominator is 0 they follow the Dice
  convention: 1.0 if both masks are empty, else 0.0.

Example:
    >>> import numpy as np
    >>> gt = np.zeros((3, 4, 4), bool); gt[1, 1:3, 1:3] = True
    >>> pred = np.zeros_like(gt); pred[1, 1:3, 1] = True
    >>> dice(pred, gt), absolute_volume_difference(pred, gt, (2.0, 1.0, 1.0))
    (0.6666666666666666, 0.004)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cc3d
import numpy as np
from scipy import ndimage

from isla_nnunet.errors import ISLAError

CONNECTIVITY = 26


@dataclass(frozen=True)
class Metric:
    """A per-case metric: CSV column ``name``, table ``label``, and which direction is better."""

    name: str
    label: str
    higher_is_better: bool


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("dice", "DSC", True),
        Metric("avd_ml", "AVD", False),
        Metric("ald", "ALD", False),
        Metric("lesion_f1", "F1", True),
        Metric("hd95_mm", "HD95", False),
        Metric("precision", "Precision", True),
        Metric("recall", "Recall", True),
    )
}
# The five metrics ISLA ranks models with (§3.3.1, Tables 3-5).
RANKED_METRICS: tuple[str, ...] = ("dice", "avd_ml", "ald", "lesion_f1", "hd95_mm")


def _pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape:
        raise ISLAError(f"prediction shape {pred.shape} differs from ground-truth shape {gt.shape}: "
                        "resample the prediction onto the ground-truth grid first")
    return pred.astype(bool, copy=False), gt.astype(bool, copy=False)


def _spacing(spacing: Sequence[float], ndim: int) -> tuple[float, ...]:
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) != ndim or not all(np.isfinite(s) and s > 0 for s in spacing):
        raise ISLAError(f"voxel spacing {spacing} is not {ndim} positive numbers: check the image header")
    return spacing


def dice(pred: np.ndarray, gt: np.ndarray) -> float:
    """Dice similarity coefficient; 1.0 if both masks are empty, 0.0 if exactly one is."""
    pred, gt = _pair(pred, gt)
    total = int(np.count_nonzero(pred)) + int(np.count_nonzero(gt))
    if total == 0:
        return 1.0
    return 2.0 * int(np.count_nonzero(pred & gt)) / total


def volume_ml(mask: np.ndarray, spacing: Sequence[float]) -> float:
    """Mask volume in ml from the voxel spacing in mm."""
    mask = np.asarray(mask)
    return int(np.count_nonzero(mask)) * float(np.prod(_spacing(spacing, mask.ndim))) / 1000.0


def absolute_volume_difference(pred: np.ndarray, gt: np.ndarray, spacing: Sequence[float]) -> float:
    """|volume(gt) - volume(pred)| in ml (ISLES'22 AVD)."""
    pred, gt = _pair(pred, gt)
    voxel_ml = float(np.prod(_spacing(spacing, gt.ndim))) / 1000.0
    return abs(int(np.count_nonzero(gt)) - int(np.count_nonzero(pred))) * voxel_ml


def lesion_count(mask: np.ndarray) -> int:
    """Number of 26-connected components (ISLES'22 lesion count)."""
    return int(cc3d.connected_components(np.asarray(mask, dtype=bool), connectivity=CONNECTIVITY,
                                         return_N=True)[1])


def absolute_lesion_difference(pred: np.ndarray, gt: np.ndarray) -> int:
    """|N_gt - N_pred| with 26-connected components (ISLES'22 ALD)."""
    pred, gt = _pair(pred, gt)
    return abs(lesion_count(gt) - lesion_count(pred))


def lesion_detection(pred: np.ndarray, gt: np.ndarray) -> tuple[int, int, int]:
    """(TP, FP, FN) lesion counts with ISLES'22 any-overlap matching of 26-connected components."""
    pred, gt = _pair(pred, gt)
    gt_labels, n_gt = cc3d.connected_components(gt, connectivity=CONNECTIVITY, return_N=True)
    pred_labels, n_pred = cc3d.connected_components(pred, connectivity=CONNECTIVITY, return_N=True)
    overlap = pred & gt
    tp = np.unique(gt_labels[overlap]).size
    fp = n_pred - np.unique(pred_labels[overlap]).size
    return int(tp), int(fp), int(n_gt - tp)


def lesion_f1(pred: np.ndarray, gt: np.ndarray) -> float:
    """Lesion-wise F1 = TP / (TP + (FP + FN) / 2); 1.0 when both masks are empty."""
    tp, fp, fn = lesion_detection(pred, gt)
    if tp + fp + fn == 0:
        return 1.0
    return tp / (tp + (fp + fn) / 2.0)


def precision(pred: np.ndarray, gt: np.ndarray) -> float:
    """Voxel precision |P∩G| / |P|; 1.0 if both masks are empty, 0.0 if only the prediction is."""
    pred, gt = _pair(pred, gt)
    n_pred = int(np.count_nonzero(pred))
    if n_pred == 0:
        return 1.0 if not gt.any() else 0.0
    return int(np.count_nonzero(pred & gt)) / n_pred


def recall(pred: np.ndarray, gt: np.ndarray) -> float:
    """Voxel recall (sensitivity) |P∩G| / |G|; 1.0 if both masks are empty, 0.0 if only the GT is."""
    pred, gt = _pair(pred, gt)
    n_gt = int(np.count_nonzero(gt))
    if n_gt == 0:
        return 1.0 if not pred.any() else 0.0
    return int(np.count_nonzero(pred & gt)) / n_gt


def _crop_to_foreground(*masks: np.ndarray) -> tuple[np.ndarray, ...]:
    """Crop to the union bounding box plus one empty voxel on every side.

    The margin keeps every metric identical to the full-array one: surface voxels are found with a
    background of zeros outside the image, and every distance is measured to voxels inside the box.
    """
    union = np.logical_or.reduce(masks)
    slices = []
    for axis in range(union.ndim):
        other = tuple(a for a in range(union.ndim) if a != axis)
        hits = np.flatnonzero(union.any(axis=other))
        slices.append(slice(hits[0], hits[-1] + 1))
    return tuple(np.pad(m[tuple(slices)], 1) for m in masks)


def _surface(mask: np.ndarray) -> np.ndarray:
    return mask & ~ndimage.binary_erosion(mask, structure=ndimage.generate_binary_structure(mask.ndim, 1))


HD95_VARIANTS: tuple[str, ...] = ("voxels", "surface")


def hd95(pred: np.ndarray, gt: np.ndarray, spacing: Sequence[float], variant: str = "voxels") -> float:
    """HD95 in mm: the larger of the two directed 95th percentiles of distances (module docstring).

    Args:
        pred, gt: binary masks of the same shape.
        spacing: voxel size in mm, one value per array axis (anisotropic grids are honoured).
        variant: ``"voxels"`` (ISLA's formula: every voxel of a mask, distances to the other mask) or
            ``"surface"`` (surface voxels and distances between surfaces, as most other tools).

    Returns:
        0.0 if both masks are empty, NaN if exactly one is, else the distance in mm.

    Raises:
        ISLAError: an unknown variant, different shapes or bad spacing.
    """
    if variant not in HD95_VARIANTS:
        raise ISLAError(f"unknown HD95 variant {variant!r}: choose one of {', '.join(HD95_VARIANTS)}")
    pred, gt = _pair(pred, gt)
    spacing = _spacing(spacing, gt.ndim)
    has_pred, has_gt = bool(pred.any()), bool(gt.any())
    if not has_pred and not has_gt:
        return 0.0
    if has_pred != has_gt:
        return float("nan")
    pred, gt = _crop_to_foreground(pred, gt)
    if variant == "surface":
        pred, gt = _surface(pred), _surface(gt)
    to_gt = ndimage.distance_transform_edt(~gt, sampling=spacing)[pred]
    to_pred = ndimage.distance_transform_edt(~pred, sampling=spacing)[gt]
    return float(max(np.percentile(to_gt, 95), np.percentile(to_pred, 95)))


def evaluate_case(pred: np.ndarray, gt: np.ndarray, spacing: Sequence[float],
                  hd95_variant: str = "voxels") -> dict[str, float]:
    """All metrics of one case, plus the volumes and lesion counts the strata and reports use.

    Args:
        pred, gt: binary masks on the same grid (bool, or 0/1 values).
        spacing: voxel size in mm in the arrays' axis order.
        hd95_variant: see :func:`hd95`.

    Returns:
        dict with ``dice, avd_ml, ald, lesion_f1, hd95_mm, precision, recall, gt_volume_ml,
        pred_volume_ml, gt_lesions, pred_lesions`` (counts as floats, so a row is all floats).

    Raises:
        ISLAError: different shapes, bad spacing.
    """
    pred, gt = _pair(pred, gt)
    spacing = _spacing(spacing, gt.ndim)
    gt_volume, pred_volume = volume_ml(gt, spacing), volume_ml(pred, spacing)
    if pred.any() or gt.any():
        # Every metric is unchanged by the crop and the work shrinks to the lesions' extent.
        pred, gt = _crop_to_foreground(pred, gt)
    n_gt, n_pred = lesion_count(gt), lesion_count(pred)
    return {
        "dice": dice(pred, gt),
        "avd_ml": absolute_volume_difference(pred, gt, spacing),
        "ald": float(abs(n_gt - n_pred)),
        "lesion_f1": lesion_f1(pred, gt),
        "hd95_mm": hd95(pred, gt, spacing, hd95_variant),
        "precision": precision(pred, gt),
        "recall": recall(pred, gt),
        "gt_volume_ml": gt_volume,
        "pred_volume_ml": pred_volume,
        "gt_lesions": float(n_gt),
        "pred_lesions": float(n_pred),
    }
