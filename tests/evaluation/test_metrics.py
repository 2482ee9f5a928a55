"""Metric values on hand-built volumes (expected values derived by hand) and on real ISLES'22 masks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import cKDTree

from isla_nnunet.errors import ISLAError
from isla_nnunet.evaluation import (
    absolute_lesion_difference,
    absolute_volume_difference,
    dice,
    evaluate_case,
    evaluate_files,
    hd95,
    lesion_count,
    lesion_detection,
    lesion_f1,
    precision,
    recall,
    volume_ml,
)
from isla_nnunet.evaluation.images import read_mask

from .helpers import ISLES_MASKS, volume

S = (3, 5, 5)
EMPTY = volume(S)
ONE = volume(S, (1, 1, 1))
FAR = volume(S, (1, 3, 3))
TWO = volume(S, (1, 1, 1), (1, 1, 2))
FOUR = volume(S, (1, 1, 1), (1, 1, 2), (1, 2, 1), (1, 2, 2))
TWO_LESIONS = volume(S, (1, 1, 1), (1, 3, 3))
CORNER_PAIR = volume(S, (0, 1, 1), (1, 2, 2))  # touching at a corner only: 1 lesion (26-conn.), 2 (6-conn.)
EDGE_PAIR = volume(S, (1, 1, 1), (1, 2, 2))  # touching along an edge: 1 lesion (18- and 26-conn.)
BRIDGE = volume(S, (1, 1, 1), (1, 2, 2), (1, 3, 3))  # one diagonal lesion spanning TWO_LESIONS


@pytest.mark.parametrize(
    "pred, gt, expected",
    [
        (EMPTY, EMPTY, 1.0),  # ISLES'22: both empty -> 1
        (EMPTY, ONE, 0.0),  # exactly one empty -> 0
        (ONE, EMPTY, 0.0),
        (TWO, TWO, 1.0),
        (TWO, FOUR, 2 * 2 / (2 + 4)),
        (ONE, FAR, 0.0),
    ],
)
def test_dice(pred, gt, expected):
    assert dice(pred, gt) == pytest.approx(expected)


@pytest.mark.parametrize(
    "pred, gt, spacing, expected_ml",
    [
        (EMPTY, EMPTY, (1.0, 1.0, 1.0), 0.0),
        (ONE, FOUR, (2.0, 1.0, 0.5), 3 * 1.0 / 1000),  # 3 voxels of 1 mm^3
        (FOUR, ONE, (2.0, 1.0, 0.5), 3 * 1.0 / 1000),  # symmetric
        (EMPTY, TWO, (6.0, 0.9, 0.9), 2 * 4.86 / 1000),  # ISLA reference voxel: 4.86 mm^3
        (ONE, FAR, (1.0, 1.0, 1.0), 0.0),  # same volume, no overlap
    ],
)
def test_absolute_volume_difference(pred, gt, spacing, expected_ml):
    assert absolute_volume_difference(pred, gt, spacing) == pytest.approx(expected_ml)


@pytest.mark.parametrize(
    "mask, expected",
    [(EMPTY, 0), (ONE, 1), (TWO_LESIONS, 2), (CORNER_PAIR, 1), (EDGE_PAIR, 1), (BRIDGE, 1)],
)
def test_lesion_count_uses_26_connectivity(mask, expected):
    assert lesion_count(mask) == expected


def test_corner_pair_would_be_two_lesions_with_scipy_default_structure():
    # Guards the test above: scipy's default (6-connectivity) splits the pair, ISLES'22 does not.
    assert ndimage.label(CORNER_PAIR)[1] == 2
    assert absolute_lesion_difference(ONE, CORNER_PAIR) == 0
    # A prediction covering one voxel of the pair: 6-connectivity would give TP=1, FN=1 -> F1 2/3.
    assert lesion_f1(volume(S, (0, 1, 1)), CORNER_PAIR) == 1.0


@pytest.mark.parametrize(
    "pred, gt, expected",
    [
        (EMPTY, EMPTY, 0),
        (EMPTY, ONE, 1),
        (ONE, TWO_LESIONS, 1),
        (TWO_LESIONS, ONE, 1),
        (CORNER_PAIR, ONE, 0),
        (BRIDGE, TWO_LESIONS, 1),
    ],
)
def test_absolute_lesion_difference(pred, gt, expected):
    assert absolute_lesion_difference(pred, gt) == expected


@pytest.mark.parametrize(
    "pred, gt, tp_fp_fn, f1",
    [
        (EMPTY, EMPTY, (0, 0, 0), 1.0),  # ISLES'22: both empty -> 1
        (EMPTY, ONE, (0, 0, 1), 0.0),
        (ONE, EMPTY, (0, 1, 0), 0.0),
        (ONE, TWO_LESIONS, (1, 0, 1), 1 / (1 + 0.5)),
        (BRIDGE, TWO_LESIONS, (2, 0, 0), 1.0),  # one predicted lesion touching two GT lesions: both TP
        (TWO_LESIONS, BRIDGE, (1, 0, 0), 1.0),  # two predicted lesions inside one GT lesion: no FP
        (volume(S, (1, 1, 1), (1, 3, 3), (0, 1, 4)), ONE, (1, 2, 0), 1 / (1 + 1)),
        (ONE, FAR, (0, 1, 1), 0.0),
    ],
)
def test_lesion_detection_and_f1(pred, gt, tp_fp_fn, f1):
    assert lesion_detection(pred, gt) == tp_fp_fn
    assert lesion_f1(pred, gt) == pytest.approx(f1)


@pytest.mark.parametrize(
    "pred, gt, expected_precision, expected_recall",
    [
        (EMPTY, EMPTY, 1.0, 1.0),
        (EMPTY, ONE, 0.0, 0.0),
        (ONE, EMPTY, 0.0, 0.0),
        (TWO, FOUR, 1.0, 0.5),
        (FOUR, TWO, 0.5, 1.0),
        (TWO_LESIONS, TWO, 0.5, 0.5),
    ],
)
def test_precision_recall(pred, gt, expected_precision, expected_recall):
    assert precision(pred, gt) == pytest.approx(expected_precision)
    assert recall(pred, gt) == pytest.approx(expected_recall)


def test_hd95_empty_conventions():
    assert hd95(EMPTY, EMPTY, (1, 1, 1)) == 0.0
    assert math.isnan(hd95(EMPTY, ONE, (1, 1, 1)))
    assert math.isnan(hd95(ONE, EMPTY, (1, 1, 1)))
    assert hd95(FOUR, FOUR, (2.0, 1.0, 0.5)) == 0.0


@pytest.mark.parametrize(
    "offset_zyx, spacing_zyx, expected_mm",
    [
        ((1, 0, 0), (3.0, 0.5, 0.9), 3.0),  # axis 0 is z: the 3 mm spacing applies, not 0.9 mm
        ((0, 0, 1), (3.0, 0.5, 0.9), 0.9),
        ((1, 2, 3), (3.0, 0.5, 0.9), math.sqrt(3.0**2 + 1.0**2 + 2.7**2)),
    ],
)
def test_hd95_single_voxels_anisotropic(offset_zyx, spacing_zyx, expected_mm):
    a = volume((6, 6, 6), (1, 1, 1))
    b = volume((6, 6, 6), tuple(1 + o for o in offset_zyx))
    assert hd95(a, b, spacing_zyx) == pytest.approx(expected_mm)


def _cube(shape, corner, size=3):
    out = np.zeros(shape, dtype=bool)
    out[tuple(slice(c, c + size) for c in corner)] = True
    return out


@pytest.mark.parametrize("axis, spacing", [(0, (2.0, 1.5, 0.7)), (1, (2.0, 1.5, 0.7)), (2, (2.0, 1.5, 0.7))])
@pytest.mark.parametrize("variant", ["voxels", "surface"])
def test_hd95_translated_cube(axis, spacing, variant):
    # Voxels: each of the 27 voxels' nearest counterpart is k - 2, k - 1 or k layers away (9 each), so the
    # 95th percentile (position 24.7) is k x spacing. Surfaces: a 3x3x3 cube has 26 surface voxels;
    # translated by k along one axis, the distances from one cube's
    # surface to the other's are (k-2, k-1, k) x spacing for its 9, 8 and 9 voxels at the three layers,
    # so the 95th percentile (position 0.95 * 25 = 23.75 among sorted values) is k x spacing.
    k = 5
    corner = [2, 2, 2]
    a = _cube((12, 12, 12), corner)
    corner[axis] += k
    b = _cube((12, 12, 12), corner)
    assert hd95(a, b, spacing, variant) == pytest.approx(k * spacing[axis])


def test_hd95_is_max_of_directed_percentiles_not_pooled():
    # gt: 3x3x3 cube at z,y,x in {2,3,4}; pred: the cube plus a 3-voxel row at z=10, y=3, x in {2,3,4}.
    # pred -> gt: 26 zeros and 3 distances of 6 voxels (z spacing 2.5 mm) = 15 mm; the 95th percentile
    # (position 0.95 * 28 = 26.6) is 15 mm. gt -> pred: all 0. Pooling the 55 distances would give
    # 0.3 * 15 = 4.5 mm (position 51.3 between the last zero and the first 15).
    gt = _cube((14, 8, 8), (2, 2, 2))
    pred = gt.copy()
    pred[10, 3, 2:5] = True
    assert hd95(pred, gt, (2.5, 1.0, 1.0)) == pytest.approx(15.0)
    assert hd95(gt, pred, (2.5, 1.0, 1.0)) == pytest.approx(15.0)  # symmetric by definition


def _ball(shape, spacing, centre_mm, radius_mm):
    grid = np.indices(shape).astype(float)
    squared = sum(((grid[i] * spacing[i]) - centre_mm[i]) ** 2 for i in range(3))
    return squared <= radius_mm**2


def _brute_force_hd95(a, b, spacing, variant="surface"):
    """Independent implementation: explicit 6-neighbour surfaces and k-d tree nearest neighbours in mm."""

    def points(mask):
        if variant == "voxels":
            return np.argwhere(mask) * np.asarray(spacing)
        padded = np.pad(mask, 1)
        inner = padded[1:-1, 1:-1, 1:-1]
        interior = inner.copy()
        for axis in range(3):
            for shift in (-1, 1):
                interior &= np.roll(padded, shift, axis=axis)[1:-1, 1:-1, 1:-1]
        return np.argwhere(inner & ~interior) * np.asarray(spacing)

    pa, pb = points(a), points(b)
    return max(np.percentile(cKDTree(pb).query(pa)[0], 95), np.percentile(cKDTree(pa).query(pb)[0], 95))


@pytest.mark.parametrize("spacing", [(3.0, 0.75, 0.75), (1.0, 1.0, 1.0), (0.8, 2.0, 1.2)])
def test_hd95_concentric_spheres(spacing):
    # Balls of radius 6 and 12 mm around the same point. Surfaces: every surface point of one is about
    # 6 mm from the other's surface. Voxels (ISLA): the inner ball lies inside the outer (distance 0),
    # and an outer voxel at radius r is r - 6 mm from the inner ball; the 95th percentile over the outer
    # ball's volume is at r = 12 * 0.95^(1/3), i.e. 12 * 0.95^(1/3) - 6 = 5.795 mm.
    shape = tuple(int(round(32 / s)) for s in spacing)
    centre = tuple(16.0 + 0.3 * s for s in spacing)
    inner, outer = _ball(shape, spacing, centre, 6.0), _ball(shape, spacing, centre, 12.0)
    surface = hd95(inner, outer, spacing, variant="surface")
    voxels = hd95(inner, outer, spacing)
    assert surface == pytest.approx(_brute_force_hd95(inner, outer, spacing, "surface"), abs=1e-9)
    assert voxels == pytest.approx(_brute_force_hd95(inner, outer, spacing, "voxels"), abs=1e-9)
    assert abs(surface - 6.0) <= max(spacing)
    assert abs(voxels - (12 * 0.95 ** (1 / 3) - 6)) <= max(spacing)


@pytest.mark.parametrize("variant", ["voxels", "surface"])
def test_hd95_spheres_apart_along_slices(variant):
    # Two radius-4 mm spheres centred on slices 5 and 9 (6 mm slices, ISLA's reference spacing): with
    # slices 6 mm apart each sphere is one disc, and the second disc is the first moved 24 mm along z,
    # so every voxel's nearest counterpart is its own translate: HD95 = 24 mm exactly in both variants.
    spacing = (6.0, 0.9, 0.9)
    shape = (16, 24, 24)
    a = _ball(shape, spacing, (30.0, 10.8, 10.8), 4.0)
    b = _ball(shape, spacing, (54.0, 10.8, 10.8), 4.0)
    assert hd95(a, b, spacing, variant) == pytest.approx(24.0)
    assert hd95(a, b, spacing, variant) == pytest.approx(_brute_force_hd95(a, b, spacing, variant), abs=1e-9)


def test_hd95_solid_against_hollow_cube_differs_between_variants():
    # A: solid 5x5x5 cube; B: its one-voxel shell (98 voxels), spacing (2, 1, 1) mm in z, y, x.
    # Surfaces: both surfaces are the shell itself, so HD95 = 0.
    # Voxels (ISLA): B lies in A (0). A's voxels: 98 shell voxels at 0; of the 27 interior ones, 24 have
    # |dy| = 1 or |dx| = 1 and sit 1 mm from the shell, 2 (dz = +-1 only) and the centre sit 2 mm from it
    # (2 voxels in y or x, or 1-2 slices of 2 mm in z). Sorted: 98 x 0, 24 x 1, 3 x 2; the 95th percentile
    # at position 0.95 * 124 = 117.8 is 1 mm.
    solid = _cube((7, 7, 7), (1, 1, 1), size=5)
    hollow = solid & ~_cube((7, 7, 7), (2, 2, 2), size=3)
    spacing = (2.0, 1.0, 1.0)
    assert hd95(solid, hollow, spacing, variant="surface") == 0.0
    assert hd95(solid, hollow, spacing) == pytest.approx(1.0)
    assert hd95(hollow, solid, spacing) == pytest.approx(1.0)


def test_evaluate_case_hand_example():
    # gt: 4 voxels in one lesion; pred: 2 of them plus a separate 1-voxel false positive.
    gt = FOUR
    pred = volume(S, (1, 1, 1), (1, 1, 2), (1, 4, 4))
    row = evaluate_case(pred, gt, (2.0, 1.0, 1.0))
    assert row["dice"] == pytest.approx(2 * 2 / (3 + 4))
    assert row["avd_ml"] == pytest.approx(1 * 2.0 / 1000)
    assert row["ald"] == 1
    assert row["lesion_f1"] == pytest.approx(1 / (1 + 0.5))
    assert row["precision"] == pytest.approx(2 / 3)
    assert row["recall"] == pytest.approx(2 / 4)
    assert row["gt_volume_ml"] == pytest.approx(0.008)
    assert row["pred_volume_ml"] == pytest.approx(0.006)
    assert (row["gt_lesions"], row["pred_lesions"]) == (1, 2)
    # pred surface -> gt surface: 0, 0 and sqrt(2^2 + 2^2) mm for the FP at (4,4) vs (2,2): P95 of
    # [0, 0, 2.83] at position 1.9 = 0.9 * 2.83; gt -> pred: 0 for (1,1),(1,2) and 1 mm for (2,1),(2,2).
    # P95 of [0, 0, 1, 1] = 1.
    assert row["hd95_mm"] == pytest.approx(max(0.9 * math.sqrt(8), 1.0))


def test_evaluate_case_both_empty():
    row = evaluate_case(EMPTY, EMPTY, (1, 1, 1))
    assert (row["dice"], row["lesion_f1"], row["precision"], row["recall"]) == (1.0, 1.0, 1.0, 1.0)
    assert (row["avd_ml"], row["ald"], row["hd95_mm"]) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("variant", ["voxels", "surface"])
@pytest.mark.parametrize("margin", [0, 2])
def test_hd95_masks_touching_the_image_border(margin, variant):
    # The image border counts as outside, so a mask filling the array has surface voxels on it, and
    # the result is the same as for the masks embedded in a larger empty array.
    gt = np.pad(np.ones((3, 3, 3), dtype=bool), margin)
    pred = gt.copy()
    pred[:, :, margin + 2] = False
    # Surfaces: gt 26 voxels (all but the centre); pred (x in {0, 1}): all 18 voxels are surface.
    # pred -> gt: 17 zeros and the cube centre at 1 mm: P95 at position 16.15 = 0.15.
    # gt -> pred: the x=2 layer (9 voxels) at 1 mm, 17 zeros: P95 at position 23.75 = 1.
    # Voxels: pred lies in gt (all 0); gt -> pred: 18 zeros and the x=2 layer at 1 mm: P95 at 24.7 = 1.
    assert hd95(pred, gt, (1, 1, 1), variant) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: dice(np.zeros((2, 2, 2)), np.zeros((2, 2, 3))),
        lambda: hd95(ONE, ONE, (1.0, 1.0)),
        lambda: hd95(ONE, ONE, (1.0, 0.0, 1.0)),
        lambda: hd95(ONE, ONE, (1.0, 1.0, 1.0), variant="pooled"),
        lambda: absolute_volume_difference(ONE, ONE, (1.0, float("nan"), 1.0)),
        lambda: evaluate_case(ONE, volume((3, 5, 6)), (1, 1, 1)),
    ],
)
def test_bad_arguments_raise_isla_error(call):
    with pytest.raises(ISLAError):
        call()


# --- real ISLES'22 masks (2 mm isotropic, 0.008 ml per voxel) -------------------------------------


@pytest.mark.parametrize("name", list(ISLES_MASKS))
def test_real_mask_volume_and_lesion_count(isles_masks, name):
    mask = read_mask(isles_masks[name])
    expected_ml, expected_lesions = ISLES_MASKS[name]
    assert volume_ml(mask.array, mask.geometry.spacing_zyx) == pytest.approx(expected_ml)
    assert lesion_count(mask.array) == expected_lesions


def test_real_mask_lesion_count_differs_from_six_connectivity(isles_masks):
    mask = read_mask(isles_masks["masks_only/sub-strokecase0003_ses-0001_dwi.nii.gz"]).array
    assert ndimage.label(mask)[1] != 46  # scipy's default structure would break the ALD/F1 tests
    assert lesion_count(mask) == 46


@pytest.mark.parametrize("name", list(ISLES_MASKS))
def test_real_mask_against_itself_and_empty(isles_masks, name):
    mask = read_mask(isles_masks[name])
    expected_ml, expected_lesions = ISLES_MASKS[name]
    same = evaluate_files(isles_masks[name], isles_masks[name])
    assert (same["dice"], same["avd_ml"], same["ald"], same["lesion_f1"], same["hd95_mm"]) == (1, 0, 0, 1, 0)
    empty = evaluate_case(np.zeros_like(mask.array), mask.array, mask.geometry.spacing_zyx)
    assert empty["dice"] == 0.0 and empty["lesion_f1"] == 0.0
    assert empty["avd_ml"] == pytest.approx(expected_ml)
    assert empty["ald"] == expected_lesions
    assert math.isnan(empty["hd95_mm"])
    assert (empty["precision"], empty["recall"]) == (0.0, 0.0)


@pytest.fixture(scope="module")
def case_0002_0003(isles_masks):
    a = read_mask(isles_masks["masks_only/sub-strokecase0002_ses-0001_dwi.nii.gz"]).array
    b = read_mask(isles_masks["masks_only/sub-strokecase0003_ses-0001_dwi.nii.gz"]).array
    return a, b


def test_real_masks_against_each_other(case_0002_0003):
    a, b = case_0002_0003  # 118 and 3873 voxels; they do not overlap
    assert not (a & b).any()
    row = evaluate_case(a, b, (2.0, 2.0, 2.0))
    assert row["dice"] == 0.0 and row["lesion_f1"] == 0.0
    assert row["avd_ml"] == pytest.approx(30.984 - 0.944)
    assert row["ald"] == 46 - 1


def test_real_mask_plus_other_lesions(case_0002_0003):
    a, b = case_0002_0003
    assert not (ndimage.binary_dilation(a, np.ones((3, 3, 3))) & b).any()  # not even touching
    row = evaluate_case(a | b, a, (2.0, 2.0, 2.0))
    # gt = a (1 lesion, 118 voxels); pred adds b's 46 lesions (3873 voxels) as false positives.
    assert row["dice"] == pytest.approx(2 * 118 / (118 + 118 + 3873))
    assert row["avd_ml"] == pytest.approx(30.984)
    assert row["ald"] == 46
    assert row["lesion_f1"] == pytest.approx(1 / (1 + 46 / 2))
    assert row["precision"] == pytest.approx(118 / (118 + 3873))
    assert row["recall"] == 1.0


def test_real_mask_eroded_copy(isles_masks):
    gt = read_mask(isles_masks["masks_only/sub-strokecase0003_ses-0001_dwi.nii.gz"]).array
    eroded = ndimage.binary_erosion(gt)  # removes exactly the 6-neighbour surface
    n_gt, n_eroded = int(gt.sum()), int(eroded.sum())
    labels, n = ndimage.label(gt, structure=np.ones((3, 3, 3)))
    survivors = np.unique(labels[eroded]).size  # GT lesions keeping at least one voxel
    row = evaluate_case(eroded, gt, (2.0, 2.0, 2.0))
    assert row["dice"] == pytest.approx(2 * n_eroded / (n_eroded + n_gt))
    assert row["avd_ml"] == pytest.approx((n_gt - n_eroded) * 0.008)
    assert row["precision"] == 1.0
    assert row["recall"] == pytest.approx(n_eroded / n_gt)
    assert row["lesion_f1"] == pytest.approx(survivors / (survivors + (n - survivors) / 2))
    # Every surface voxel of the eroded mask is 6-adjacent to the removed layer: 2 mm from gt's surface.
    assert row["hd95_mm"] >= 2.0


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_real_mask_shifted_copy(isles_masks, axis):
    gt = read_mask(isles_masks["sub-strokecase0009/sub-strokecase0009_ses-0001_msk.nii.gz"]).array
    assert not gt.take([0, -1], axis=axis).any()  # np.roll then loses nothing
    shifted = np.roll(gt, 1, axis=axis)
    overlap = int((gt & shifted).sum())
    row = evaluate_case(shifted, gt, (2.0, 2.0, 2.0))
    assert row["avd_ml"] == 0.0 and row["ald"] == 0
    assert row["dice"] == pytest.approx(2 * overlap / (2 * 523))
    # Each surface voxel's shifted image is a surface voxel of the other mask, 2 mm away: HD95 <= 2 mm.
    assert 0.0 < row["hd95_mm"] <= 2.0


def test_real_masks_on_different_grids_are_an_error(isles_masks):
    with pytest.raises(ISLAError, match="different grids"):
        evaluate_files(isles_masks["masks_only/sub-strokecase0002_ses-0001_dwi.nii.gz"],
                       isles_masks["masks_only/sub-strokecase0003_ses-0001_dwi.nii.gz"])


def test_real_mha_masks_overlapping(isles_masks):
    a = read_mask(isles_masks["masks_only/38496fea-2c64-4afe-9c42-d4d527191040.mha"]).array  # 281 voxels
    b = read_mask(isles_masks["masks_only/717ee719-0701-4fb3-9c69-52a7dbaa5e56.mha"]).array  # 728 voxels
    overlap = int((a & b).sum())
    row = evaluate_case(b, a, (2.0, 2.0, 2.0))
    assert row["dice"] == pytest.approx(2 * overlap / (281 + 728))
    assert row["avd_ml"] == pytest.approx(5.824 - 2.248)
    assert row["ald"] == 0
    assert row["precision"] == pytest.approx(overlap / 728)
    assert row["recall"] == pytest.approx(overlap / 281)
