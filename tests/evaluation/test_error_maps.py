"""Voxel-wise FP/FN proportion and distance maps (ISLA §3.3.3.3) on hand-built cases."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.evaluation.error_maps import compute_error_maps, make_error_maps, smooth
from isla_nnunet.evaluation.metrics import hd95

from .helpers import volume

SHAPE = (3, 6, 6)
SPACING = (2.0, 1.0, 1.0)


@pytest.fixture
def two_cases(tmp_path, save_image):
    # case 1: gt {(1,2,2), (0,2,2)}, pred {(1,2,2), (1,2,4)}: FP (1,2,4) 2 mm from gt (x), FN (0,2,2)
    #         2 mm from pred (one 2 mm slice).
    # case 2: gt {(1,2,2), (1,3,2)}, empty prediction: two FN, no FN distance (nothing predicted).
    cases = {
        "c1": (volume(SHAPE, (1, 2, 2), (1, 2, 4)), volume(SHAPE, (1, 2, 2), (0, 2, 2))),
        "c2": (volume(SHAPE), volume(SHAPE, (1, 2, 2), (1, 3, 2))),
    }
    for case, (pred, gt) in cases.items():
        save_image(tmp_path / "pred" / f"{case}.nii.gz", pred.astype(np.uint8), SPACING)
        save_image(tmp_path / "gt" / f"{case}.nii.gz", gt.astype(np.uint8), SPACING)
    return tmp_path / "pred", tmp_path / "gt"


def _only(value_at: dict) -> np.ndarray:
    out = np.zeros(SHAPE, np.float32)
    for voxel, value in value_at.items():
        out[voxel] = value
    return out


def test_error_maps_unsmoothed(two_cases):
    pred, gt = two_cases
    maps = compute_error_maps(pred, gt, fwhm_mm=0.0, workers=1)
    assert (maps.n_cases, maps.n_fp_distance_cases, maps.n_fn_distance_cases) == (2, 2, 1)
    np.testing.assert_allclose(maps.maps["fp_proportion"], _only({(1, 2, 4): 0.5}))
    np.testing.assert_allclose(maps.maps["fn_proportion"],
                               _only({(0, 2, 2): 0.5, (1, 2, 2): 0.5, (1, 3, 2): 0.5}))
    np.testing.assert_allclose(maps.maps["fp_mean_distance_mm"], _only({(1, 2, 4): (2.0 + 0.0) / 2}))
    np.testing.assert_allclose(maps.maps["fn_mean_distance_mm"], _only({(0, 2, 2): 2.0 / 1}))


def test_error_maps_files(two_cases, tmp_path, save_image):
    pred, gt = two_cases
    background = save_image(tmp_path / "dwi.nii.gz", np.ones(SHAPE, np.float32), SPACING)
    maps, paths = make_error_maps(pred, gt, tmp_path / "maps", fwhm_mm=0.0, background=background, workers=1)
    assert sorted(p.name for p in paths) == sorted([
        "fp_proportion.nii.gz", "fn_proportion.nii.gz", "fp_mean_distance_mm.nii.gz",
        "fn_mean_distance_mm.nii.gz", "error_maps.png"])
    image = sitk.ReadImage(str(tmp_path / "maps" / "fn_mean_distance_mm.nii.gz"))
    assert image.GetSpacing() == pytest.approx(SPACING[::-1])
    assert sitk.GetArrayFromImage(image)[0, 2, 2] == pytest.approx(2.0)
    assert (tmp_path / "maps" / "error_maps.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "maps").iterdir()) == sorted(p.name for p in paths)


def test_smooth_fwhm_in_mm_on_anisotropic_grid():
    # A Gaussian falls to half its peak at half the FWHM: 2 mm is 2 voxels along x (1 mm) and 1 voxel
    # along z (2 mm slices) for FWHM 4 mm; smoothing keeps the total mass.
    delta = np.zeros((9, 21, 21))
    delta[4, 10, 10] = 1.0
    out = smooth(delta, (2.0, 1.0, 1.0), 4.0)
    assert out[4, 10, 12] / out[4, 10, 10] == pytest.approx(0.5, rel=1e-5)
    assert out[5, 10, 10] / out[4, 10, 10] == pytest.approx(0.5, rel=1e-5)
    assert out.sum() == pytest.approx(1.0, abs=1e-4)


def test_error_maps_default_smoothing(two_cases):
    pred, gt = two_cases
    maps = compute_error_maps(pred, gt, workers=1)
    assert maps.fwhm_mm == 4.0
    fp = maps.maps["fp_proportion"]
    assert fp[1, 2, 4] < 0.5 and fp[1, 2, 3] > 0  # spread from the single FP voxel


def test_error_maps_need_one_grid(two_cases, save_image):
    pred, gt = two_cases
    save_image(gt / "c3.nii.gz", volume(SHAPE, (1, 1, 1)).astype(np.uint8), SPACING, origin_xyz=(5.0, 0, 0))
    save_image(pred / "c3.nii.gz", volume(SHAPE, (1, 1, 1)).astype(np.uint8), SPACING, origin_xyz=(5.0, 0, 0))
    with pytest.raises(ISLAError, match="not on the grid of the other cases"):
        compute_error_maps(pred, gt, workers=1)


def test_error_maps_argument_errors(two_cases, tmp_path, save_image):
    pred, gt = two_cases
    with pytest.raises(ISLAError, match="FWHM"):
        compute_error_maps(pred, gt, fwhm_mm=-1.0)
    with pytest.raises(ISLAError, match="background image"):
        make_error_maps(pred, gt, tmp_path / "o", background=tmp_path / "absent.nii.gz")
    small = save_image(tmp_path / "small.nii.gz", np.zeros((3, 6, 5), np.float32), SPACING)
    with pytest.raises(ISLAError, match="not on the grid of the masks"):
        make_error_maps(pred, gt, tmp_path / "o", background=small, workers=1)


def test_error_map_distances_are_the_distances_of_the_default_hd95(tmp_path, save_image):
    # One case: the unsmoothed FP map holds d(a, G) for every predicted voxel a outside G (0 inside G) and
    # the FN map d(b, P) for every GT voxel b, the sets ISLA's HD95 takes its 95th percentiles of.
    rng = np.random.default_rng(0)
    pred, gt = rng.random(SHAPE) > 0.7, rng.random(SHAPE) > 0.7
    save_image(tmp_path / "pred" / "c.nii.gz", pred.astype(np.uint8), SPACING)
    save_image(tmp_path / "gt" / "c.nii.gz", gt.astype(np.uint8), SPACING)
    maps = compute_error_maps(tmp_path / "pred", tmp_path / "gt", fwhm_mm=0.0, workers=1).maps
    directed = max(np.percentile(maps["fp_mean_distance_mm"][pred], 95),
                   np.percentile(maps["fn_mean_distance_mm"][gt], 95))
    assert directed == pytest.approx(hd95(pred, gt, SPACING))
