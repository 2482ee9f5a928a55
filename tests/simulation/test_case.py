import dataclasses

import numpy as np
import pytest

from isla_nnunet import reference
from isla_nnunet.errors import ISLAError
from isla_nnunet.simulation import LesionSpec, RigidPose, get_domain, simulate_case

ARRAYS = ("dwi", "adc", "lesion", "brain_mask", "affine")


def test_same_seed_same_case(make_case):
    first = make_case(3, "source")
    again = simulate_case(3, "source")
    for name in ARRAYS:
        assert np.array_equal(getattr(first, name), getattr(again, name)), name
    assert first.metadata() == again.metadata()


def test_different_seeds_differ(make_case):
    a, b = make_case(3, "source"), make_case(4, "source")
    assert not np.array_equal(a.dwi, b.dwi)
    assert a.pose != b.pose and a.metadata()["lesion"] != b.metadata()["lesion"]


@pytest.mark.parametrize(
    "seed, domain, pattern, volume_ml",
    [
        (21, "source", "single", 80.0),
        (22, "target", "scattered", 2.5),
        (23, "isles22-like", "lacunar", 0.4),
        (24, "soop-like", "mixed", 30.0),
        (25, "isles22-like", "single", 120.0),
    ],
)
def test_requested_lesion_volume_and_contrast(make_case, seed, domain, pattern, volume_ml):
    case = make_case(seed, domain, pattern, volume_ml)
    lesion, brain = case.lesion.astype(bool), case.brain_mask.astype(bool)
    voxel_ml = float(np.prod(np.abs(np.diag(case.affine)[:3]))) / 1000.0
    assert np.count_nonzero(lesion) * voxel_ml == pytest.approx(volume_ml, rel=0.10)
    assert case.lesion.dtype == np.uint8 and set(np.unique(case.lesion)) <= {0, 1}
    assert np.all(brain[lesion])
    outside = brain & ~lesion
    adc_in, adc_out = np.median(case.adc[lesion]), np.median(case.adc[outside])
    assert adc_in < 0.75 * adc_out
    assert np.median(case.dwi[lesion]) > 1.1 * np.median(case.dwi[outside])


def test_lesion_free_case(make_case):
    case = make_case(8, "source", "none")
    assert case.lesion.sum() == 0 and case.lesion_volume_ml == 0.0


@pytest.mark.parametrize("domain", ["source", "target", "isles22-like", "soop-like"])
def test_units_b_value_grid_and_finite_images(make_case, domain):
    case = make_case(9, domain)
    settings = get_domain(domain)
    assert case.acquisition.b_value == settings.b_value
    assert case.metadata()["DiffusionBValue"] == settings.b_value
    assert case.acquisition.adc_unit == settings.adc_unit
    assert case.dwi.shape == case.adc.shape == case.lesion.shape == case.grid.shape_xyz
    assert np.all(np.isfinite(case.dwi)) and np.all(np.isfinite(case.adc))
    brain = case.brain_mask.astype(bool)
    median_mm2_s = float(np.median(case.adc[brain & (case.lesion == 0)])) * settings.adc_unit
    assert 0.7e-3 < median_mm2_s < 1.2e-3  # parenchyma ~0.7-0.8e-3 pulled up by CSF
    assert case.adc.min() >= 0 and case.dwi.min() >= 0
    if settings.skull_stripped:
        assert not case.dwi[~brain].any() and not case.adc[~brain].any()
    else:
        assert case.dwi[~brain].any()  # skull and scalp are imaged
    if settings.integer_max is not None:
        assert case.dwi.dtype == case.adc.dtype == np.int16 and case.dwi.max() <= settings.integer_max
    else:
        assert case.dwi.dtype == case.adc.dtype == np.float32


def test_csf_is_bright_on_adc_and_dark_on_dwi(make_case):
    case = make_case(9, "source")
    brain = case.brain_mask.astype(bool)
    high_adc = brain & (case.adc > 2.0)  # 1e-3 units: CSF
    assert high_adc.sum() > 1000
    assert np.median(case.dwi[high_adc]) < 0.6 * np.median(case.dwi[brain])


def test_same_seed_in_two_domains_is_the_same_subject(make_case):
    source, target = make_case(9, "source"), make_case(9, "target")
    assert np.array_equal(source.lesion, target.lesion)
    assert source.pose == target.pose
    assert not np.allclose(source.adc * 1e-3, target.adc * 1e-6)


def test_the_pose_moves_the_head_in_the_scanner():
    shift = RigidPose(translation_mm=(12.0, 0.0, 0.0))
    lesion = LesionSpec("none")
    still = simulate_case(30, "isles22-like", pose=RigidPose(), lesion=lesion)
    moved = simulate_case(30, "isles22-like", pose=shift, lesion=lesion)

    def centroid_mm(case):
        voxels = np.argwhere(case.brain_mask > 0).mean(axis=0)
        return case.affine[:3, :3] @ voxels + case.affine[:3, 3]

    assert np.allclose(centroid_mm(moved) - centroid_mm(still), [12.0, 0.0, 0.0], atol=0.5)
    assert np.allclose(
        moved.pose.inverse_matrix() @ np.append(centroid_mm(moved), 1),
        np.append(centroid_mm(still), 1),
        atol=0.5,
    )


def test_grid_override_gives_the_reference_grid():
    case = simulate_case(31, "isles22-like", grid="reference", lesion=LesionSpec("none"))
    assert case.dwi.shape == reference.SHAPE_XYZ and np.array_equal(case.affine, reference.affine())


def test_custom_domain_and_bad_seed():
    b800 = dataclasses.replace(get_domain("source"), name="b800-source", b_value=800.0)
    case = simulate_case(32, b800, lesion=LesionSpec("none"))
    assert case.acquisition.b_value == 800.0 and case.acquisition.domain == "b800-source"
    with pytest.raises(ISLAError, match="seed"):
        simulate_case(-1)
