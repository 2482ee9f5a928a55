"""The MNI152 grid and the mapping native <-> MNI152 through a case's rigid registration."""

from __future__ import annotations

import cc3d
import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.preprocessing import reference_image, register_to_reference

from .synthetic import LESION_CENTRE_LPS, LESION_RADIUS_MM, make_case, rigid


def _dice(a, b) -> float:
    a, b = sitk.GetArrayFromImage(a) > 0, sitk.GetArrayFromImage(b) > 0
    return 2 * (a & b).sum() / (a.sum() + b.sum())


def _centroid_mm(mask: sitk.Image) -> np.ndarray:
    index = np.argwhere(sitk.GetArrayFromImage(mask) > 0)[:, ::-1].mean(axis=0)
    return np.asarray(mask.TransformContinuousIndexToPhysicalPoint(index.tolist()))


def _volume_ml(mask: sitk.Image) -> float:
    return float((sitk.GetArrayViewFromImage(mask) > 0).sum() * np.prod(mask.GetSpacing()) / 1000.0)


@pytest.fixture(scope="module")
def synthetic():
    images = make_case(rigid((-12.0, 5.0, 9.0), (15.0, -10.0, 6.0)), seed=2)
    return images, register_to_reference(images["dwi"], images["brain"])


def test_mni_grid_is_the_templates_1mm_grid_and_holds_the_reference_brain():
    grid = reference_image.mni_grid()
    assert grid.GetSize() == (197, 233, 189) and grid.GetSpacing() == pytest.approx((1.0, 1.0, 1.0))
    # Same world frame: the reference brain mask, moved onto the MNI grid without a transform, lies on
    # the template brain it was built from.
    on_mni = sitk.Resample(reference_image.brain_mask(), grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    template = sitk.ReadImage(str(reference_image.template_folder() / reference_image.TEMPLATE_FILES["t1"]))
    template_brain = sitk.Cast(template / 255.0 > reference_image.BRAIN_THRESHOLD, sitk.sitkUInt8)
    template_brain.CopyInformation(grid)
    assert _dice(on_mni, template_brain) > 0.9


def test_lesion_lands_at_its_known_mni_position_with_its_volume(synthetic):
    images, registration = synthetic
    on_mni = registration.to_mni(images["lesion"], kind="mask")
    assert on_mni.GetSize() == (197, 233, 189) and on_mni.GetPixelID() == sitk.sitkUInt8
    # make_case put the lesion at LESION_CENTRE_LPS of the reference (= MNI152) world frame.
    assert np.linalg.norm(_centroid_mm(on_mni) - LESION_CENTRE_LPS) < 1.5
    sphere_ml = 4 / 3 * np.pi * LESION_RADIUS_MM**3 / 1000
    assert _volume_ml(on_mni) == pytest.approx(sphere_ml, rel=0.15)


def test_mask_round_trip_native_mni_native_is_exact_enough(synthetic):
    images, registration = synthetic
    back = registration.from_mni(registration.to_mni(images["lesion"], kind="mask"), kind="mask")
    assert back.GetSize() == images["lesion"].GetSize()
    assert _dice(back, images["lesion"]) > 0.97


def test_probability_goes_to_mni_linearly(synthetic):
    images, registration = synthetic
    probability = sitk.Cast(images["lesion"], sitk.sitkFloat32) * 0.8
    on_mni = sitk.GetArrayFromImage(registration.to_mni(probability))
    assert on_mni.dtype == np.float32 and on_mni.max() == pytest.approx(0.8, abs=1e-4) and on_mni.min() >= 0


def test_atlas_on_its_own_grid_labels_the_native_lesion(synthetic):
    images, registration = synthetic
    # A 2 mm atlas in MNI152 space: region 3 a 10 mm ball around the lesion centre, region 5 all else.
    atlas = sitk.Image([90, 108, 90], sitk.sitkUInt8)
    atlas.SetSpacing([2.0] * 3)
    atlas.SetOrigin([-90.0, -126.0, -72.0])
    index = np.indices(atlas.GetSize()[::-1]).reshape(3, -1).T[:, ::-1]
    points = np.asarray(atlas.GetOrigin()) + index * 2.0
    ball = np.linalg.norm(points - LESION_CENTRE_LPS, axis=1) <= 10.0
    array = np.where(ball, 3, 5).astype(np.uint8).reshape(atlas.GetSize()[::-1])
    labelled = sitk.GetImageFromArray(array)
    labelled.CopyInformation(atlas)
    native = sitk.GetArrayFromImage(registration.from_mni(labelled, kind="labels"))
    lesion = sitk.GetArrayFromImage(images["lesion"]) > 0
    assert native.dtype == np.uint16 and set(np.unique(native[lesion])) == {3}
    assert (native == 5).sum() > 10 * lesion.sum()


def test_real_round_trip_keeps_every_voxel_and_lesion(soop, isles):
    for case in (soop, isles):
        on_mni = case.registration.to_mni(case.lesion, kind="mask")
        back = case.registration.from_mni(on_mni, kind="mask")
        assert _dice(back, case.lesion) > 0.97
        counts = [cc3d.connected_components(sitk.GetArrayFromImage(m), connectivity=26).max()
                  for m in (case.lesion, on_mni)]
        assert counts[1] == counts[0]
        assert _volume_ml(on_mni) == pytest.approx(_volume_ml(case.lesion), rel=0.1)


def test_bad_kinds_and_arrays_refused(synthetic):
    images, registration = synthetic
    with pytest.raises(ValueError, match="kind must be"):
        registration.to_mni(images["lesion"], kind="labels")
    with pytest.raises(ValueError, match="kind must be"):
        registration.from_mni(np.zeros((189, 233, 197), np.uint8), kind="image")
    with pytest.raises(ISLAError, match="MNI152 grid"):
        registration.from_mni(np.zeros((10, 10, 10), np.uint8))
    with pytest.raises(ISLAError, match="native grid"):
        registration.to_mni(sitk.Image(5, 5, 5, sitk.sitkUInt8))
