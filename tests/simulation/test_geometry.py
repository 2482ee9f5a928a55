import numpy as np
import pytest

from isla_nnunet import reference
from isla_nnunet.errors import ISLAError
from isla_nnunet.simulation.geometry import GRIDS, RigidPose, get_grid


def test_reference_grid_is_the_reference_module_grid():
    grid = get_grid("reference")
    assert grid.is_reference
    assert np.array_equal(grid.affine(), reference.affine())
    assert grid.voxel_volume_ml == pytest.approx(0.9 * 0.9 * 6.0 / 1000)


@pytest.mark.parametrize("name", sorted(GRIDS))
def test_native_grids_are_las_and_centred_on_the_brain_centre(name):
    grid = get_grid(name)
    affine = grid.affine()
    assert np.allclose(np.abs(np.diag(affine)[:3]), grid.spacing_xyz)
    assert affine[0, 0] < 0 < affine[1, 1] and affine[2, 2] > 0  # LAS
    centre_voxel = (np.asarray(grid.shape_xyz) - 1) / 2
    assert np.allclose(affine[:3, :3] @ centre_voxel + affine[:3, 3], reference.CENTER_RAS_MM)


def test_published_native_grids():
    assert get_grid("isles22").shape_xyz == (112, 112, 73) and get_grid("isles22").spacing_xyz == (
        2.0,
        2.0,
        2.0,
    )
    assert get_grid("soop").shape_xyz == (256, 256, 26) and get_grid("soop").spacing_xyz[2] == 6.0


def test_unknown_grid_is_a_user_error():
    with pytest.raises(ISLAError, match="unknown simulation grid"):
        get_grid("nope")


def test_pose_is_rigid_and_rotates_about_the_brain_centre():
    pose = RigidPose(rotation_deg=(12.0, -3.0, 7.0), translation_mm=(4.0, -5.0, 6.0))
    matrix = pose.matrix()
    rotation = matrix[:3, :3]
    assert np.allclose(rotation @ rotation.T, np.eye(3)) and np.isclose(np.linalg.det(rotation), 1.0)
    centre = np.append(reference.CENTER_RAS_MM, 1.0)
    assert np.allclose((matrix @ centre)[:3], np.asarray(reference.CENTER_RAS_MM) + [4.0, -5.0, 6.0])
    assert np.allclose(pose.inverse_matrix() @ matrix, np.eye(4))


def test_pitch_turns_anterior_towards_superior():
    # A positive rotation about +x (RAS) carries a point in front of the centre upwards.
    pose = RigidPose(rotation_deg=(90.0, 0.0, 0.0))
    front = np.append(np.asarray(reference.CENTER_RAS_MM) + [0.0, 10.0, 0.0], 1.0)
    assert np.allclose((pose.matrix() @ front)[:3] - reference.CENTER_RAS_MM, [0.0, 0.0, 10.0])


def test_random_pose_stays_in_range_and_is_seeded():
    a = RigidPose.random(np.random.default_rng(3), (10, 5, 2), (4, 4, 4))
    b = RigidPose.random(np.random.default_rng(3), (10, 5, 2), (4, 4, 4))
    assert a == b
    assert all(abs(r) <= m for r, m in zip(a.rotation_deg, (10, 5, 2), strict=True))
    assert all(abs(t) <= 4 for t in a.translation_mm)
