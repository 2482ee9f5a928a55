"""The QC picture: slice choice, orientation for display, and an atomically written PNG."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from isla_nnunet.prediction.qc import lps_array, most_lesion_slices, write_qc_png


def test_most_lesion_slices_counts_voxels_per_plane():
    mask = np.zeros((6, 7, 8), np.uint8)
    mask[2, 1:4, 1:4] = 1      # 9 voxels in axial slice 2
    mask[4, 5, 6] = 1          # 1 voxel elsewhere
    mask[0:5, 6, 7] = 1        # 5 voxels in coronal slice 6, sagittal slice 7
    assert most_lesion_slices(mask) == (2, 6, 7)


def test_empty_mask_falls_back_to_the_brain_centre_then_the_middle():
    brain = np.zeros((6, 8, 10), bool)
    brain[1:4, 2:5, 6:9] = True
    assert most_lesion_slices(np.zeros((6, 8, 10)), brain) == (2, 3, 7)
    assert most_lesion_slices(np.zeros((6, 8, 10))) == (3, 4, 5)


def test_display_arrays_are_reoriented_to_lps():
    array = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    ras_stored = sitk.GetImageFromArray(array)
    ras_stored.SetDirection((-1.0, 0, 0, 0, -1.0, 0, 0, 0, 1.0))  # index x -> right, y -> anterior
    np.testing.assert_array_equal(lps_array(ras_stored), array[:, ::-1, ::-1])
    np.testing.assert_array_equal(lps_array(sitk.GetImageFromArray(array)), array)


def test_png_is_written_atomically(tmp_path):
    shape = (5, 16, 20)
    dwi = sitk.GetImageFromArray(np.random.default_rng(0).uniform(0, 100, shape).astype(np.float32))
    dwi.SetSpacing((1.0, 1.0, 4.0))
    adc = sitk.GetImageFromArray(np.full(shape, 800.0, np.float32))
    mask_array = np.zeros(shape, np.uint8)
    mask_array[2, 5:9, 5:9] = 1
    prob_array = mask_array * 0.8
    images = []
    for array in (mask_array, prob_array.astype(np.float32)):
        image = sitk.GetImageFromArray(array)
        image.CopyInformation(dwi)
        images.append(image)
    adc.CopyInformation(dwi)
    path = write_qc_png(dwi, adc, images[0], images[1], tmp_path / "qc.png", title="test")
    assert [p.name for p in tmp_path.iterdir()] == ["qc.png"]
    import matplotlib.image

    picture = matplotlib.image.imread(path)
    assert picture.ndim == 3 and picture.shape[0] > 300 and picture.shape[1] > 600
