"""Errors split by region: hand-placed voxels on a known grid, SimpleITK's own point mapping, and simulated
lesions in known territories carried through the real registration."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.io import load_case, load_mask
from isla_nnunet.prediction.error_regions import errors_by_region, voxel_to_template
from isla_nnunet.preprocessing import Registration, extract_brain, register_to_reference, resolve_method
from isla_nnunet.simulation import simulate_case, write_native_case
from isla_nnunet.simulation.lesions import LesionSpec


def _grid() -> sitk.Image:
    # 2 mm voxels in LPS covering RAS x -80..78, y -110..88, z -60..58 mm.
    grid = sitk.Image(80, 100, 60, sitk.sitkUInt8)
    grid.SetSpacing((2.0, 2.0, 2.0))
    grid.SetOrigin((-80.0, -90.0, -60.0))
    return grid


def _voxel(x_ras, y_ras, z_ras):
    """(z, y, x) index of a RAS point on _grid()."""
    return int((z_ras + 60) / 2), int((-y_ras + 90) / 2), int((-x_ras + 80) / 2)


def test_volumes_split_by_hand_placed_voxels():
    registration = Registration(sitk.Euler3DTransform(), _grid())
    prediction, truth = np.zeros((60, 100, 80), np.uint8), np.zeros((60, 100, 80), np.uint8)
    for x, y, z in ((0, -60, -36), (20, -70, -40), (0, 20, 30)):  # two cerebellar, one frontal voxel predicted
        prediction[_voxel(x, y, z)] = 1
    truth[_voxel(0, 20, 30)] = 1                                    # the frontal one is right
    truth[_voxel(-30, -20, 40)] = 1                                 # a parietal one is missed
    truth[_voxel(0, -30, -32)] = 1                                  # and one in the pons
    voxel_ml = 0.008
    assert errors_by_region(prediction, truth, registration) == {
        "fp_posterior_fossa_ml": 2 * voxel_ml, "fp_elsewhere_ml": 0.0,
        "fn_posterior_fossa_ml": voxel_ml, "fn_elsewhere_ml": voxel_ml}


def test_voxel_to_template_agrees_with_simpleitk():
    grid = _grid()
    grid.SetDirection((0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0))
    transform = sitk.Euler3DTransform((5.0, -3.0, 2.0), 0.1, -0.05, 0.2, (4.0, -7.0, 3.0))
    registration = Registration(transform, grid)
    voxels = np.array([[0, 0, 0], [10, 20, 30], [59, 99, 79], [33, 4, 61]])
    inverse = transform.GetInverse()
    expected = [inverse.TransformPoint(grid.TransformIndexToPhysicalPoint([int(i) for i in v[::-1]]))
                for v in voxels]
    mapping = voxel_to_template(registration)
    mapped = voxels[:, ::-1] @ mapping[:3, :3].T + mapping[:3, 3]
    np.testing.assert_allclose(mapped, np.array(expected) * [-1.0, -1.0, 1.0], atol=1e-9)


def test_masks_off_the_native_grid_are_refused():
    registration = Registration(sitk.Euler3DTransform(), _grid())
    with pytest.raises(ISLAError, match="not on the case's native grid"):
        errors_by_region(np.zeros((60, 100, 79)), np.zeros((60, 100, 80)), registration)


@pytest.mark.parametrize("territory, in_fossa", [("cerebellar", True), ("MCA", False)])
def test_simulated_lesion_counts_in_its_region_through_the_registration(tmp_path, territory, in_fossa):
    case = simulate_case(7, "isles22-like", lesion=LesionSpec("single", 10.0, side="left", territory=territory))
    files = write_native_case(case, tmp_path, "sim")
    native = load_case(files["dwi"], files["adc"])
    registration = register_to_reference(native, extract_brain(native, resolve_method(native, str(files["brainmask"]))))
    truth = sitk.GetArrayFromImage(load_mask(files["msk"], native.dwi))
    missed = errors_by_region(np.zeros_like(truth), truth, registration)
    total = missed["fn_posterior_fossa_ml"] + missed["fn_elsewhere_ml"]
    assert total == pytest.approx(case.lesion_volume_ml, abs=0.01)
    share = missed["fn_posterior_fossa_ml"] / total
    assert share > 0.9 if in_fossa else share < 0.05
