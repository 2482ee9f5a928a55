"""The mask resampling rule (partial volume + small lesions survive) and load_mask."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.io import load_mask, resample_mask


def _grid(size, spacing, origin=(0.0, 0.0, 0.0)) -> sitk.Image:
    grid = sitk.Image(size, sitk.sitkUInt8)
    grid.SetSpacing(spacing)
    grid.SetOrigin(origin)
    return grid


def _mask(array, spacing=(1.0, 1.0, 1.0)) -> sitk.Image:
    image = sitk.GetImageFromArray(np.asarray(array, dtype=np.uint8))
    image.SetSpacing(spacing)
    return image


def test_tiny_lesions_survive_a_coarse_grid():
    array = np.zeros((30, 30, 30), np.uint8)
    array[4, 4, 4] = 1  # one voxel, far from the others
    array[20, 20:22, 20] = 1  # two voxels
    array[10:18, 5:13, 15:23] = 1  # a big lesion
    coarse = _grid((5, 5, 5), (6.0, 6.0, 6.0), origin=(2.5, 2.5, 2.5))
    out = sitk.GetArrayFromImage(resample_mask(_mask(array), coarse))
    assert out.dtype == np.uint8 and out.sum() >= 3
    plain = sitk.GetArrayFromImage(resample_mask(_mask(array), coarse, keep_small_lesions=False))
    assert plain.sum() < out.sum()


def test_partial_volume_keeps_large_volumes():
    array = np.zeros((60, 60, 60), np.uint8)
    array[10:40, 12:42, 15:45] = 1
    coarse = _grid((20, 20, 10), (3.0, 3.0, 6.0), origin=(1.0, 1.0, 2.5))
    out = sitk.GetArrayFromImage(resample_mask(_mask(array), coarse))
    assert out.sum() * 54 == pytest.approx(array.sum(), rel=0.15)


def test_identity_on_the_same_grid():
    array = (np.random.default_rng(1).random((8, 9, 10)) > 0.7).astype(np.uint8)
    mask = _mask(array)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(resample_mask(mask, mask)), array)
    np.testing.assert_array_equal(
        sitk.GetArrayFromImage(resample_mask(mask, mask, partial_volume=False)), array
    )


def test_load_mask_same_grid_labels_binarised(tmp_path):
    grid = _grid((10, 10, 10), (1.0, 1.0, 1.0))
    array = np.zeros((10, 10, 10), np.uint16)
    array[2:4, 2:4, 2:4] = 2
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((1.0000001, 1.0, 1.0))
    sitk.WriteImage(image, str(tmp_path / "m.nii.gz"))
    mask = load_mask(tmp_path / "m.nii.gz", grid)
    assert sitk.GetArrayFromImage(mask).max() == 1 and mask.GetSpacing() == grid.GetSpacing()


def test_load_mask_other_grid_resampled(tmp_path):
    grid = _grid((20, 20, 20), (1.0, 1.0, 1.0))
    array = np.zeros((10, 10, 10), np.uint8)
    array[3:6, 3:6, 3:6] = 1
    sitk.WriteImage(_mask(array, spacing=(2.0, 2.0, 2.0)), str(tmp_path / "m.nii.gz"))
    mask = sitk.GetArrayFromImage(load_mask(tmp_path / "m.nii.gz", grid))
    # 6 mm cube; boundary voxel centres sit exactly at fraction 0.5: between 6^3 and 7^3 voxels.
    assert 6**3 <= mask.sum() <= 7**3


def test_load_mask_elsewhere_refused(tmp_path):
    image = _mask(np.ones((5, 5, 5)))
    image.SetOrigin((300.0, 0.0, 0.0))
    sitk.WriteImage(image, str(tmp_path / "m.nii.gz"))
    with pytest.raises(ISLAError, match="covers 0% of the DWI field of view"):
        load_mask(tmp_path / "m.nii.gz", _grid((5, 5, 5), (1.0, 1.0, 1.0)), name="lesion mask")
