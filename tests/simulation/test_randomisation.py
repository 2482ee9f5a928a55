"""Domain randomisation: each option is off by default, seeded, independent, and does what it says."""

import dataclasses

import numpy as np
import pytest

from isla_nnunet.errors import ISLAError
from isla_nnunet.simulation import anatomy, simulate_case
from isla_nnunet.simulation.domains import get_domain
from isla_nnunet.simulation.geometry import RigidPose
from isla_nnunet.simulation.randomisation import RANDOMISED, Randomisation, contrast_curve, stripped_brain
from isla_nnunet.simulation.to_reference import reference_arrays

SOURCE = get_domain("source")


def _with(**options):
    return dataclasses.replace(SOURCE, name="probe", randomisation=Randomisation(**options))


def test_no_option_is_active_by_default_and_source_cases_are_unchanged():
    assert Randomisation().active() == ()
    plain = simulate_case(5, "source", pattern="single", volume_ml=10.0)
    probe = simulate_case(5, _with(), pattern="single", volume_ml=10.0)
    np.testing.assert_array_equal(plain.dwi, probe.dwi)
    np.testing.assert_array_equal(plain.lesion, probe.lesion)


def test_randomised_cases_are_seeded():
    a, b = simulate_case(2, "randomised"), simulate_case(2, "randomised")
    np.testing.assert_array_equal(a.dwi, b.dwi)
    assert a.grid == b.grid and a.mimics == b.mimics


def test_switching_a_contrast_option_leaves_anatomy_and_lesion_unchanged():
    plain = simulate_case(9, _with(), pattern="single", volume_ml=15.0)
    curved = simulate_case(9, _with(contrast_curve=0.4), pattern="single", volume_ml=15.0)
    np.testing.assert_array_equal(plain.lesion, curved.lesion)
    np.testing.assert_array_equal(plain.adc, curved.adc)
    assert not np.array_equal(plain.dwi, curved.dwi)


def test_contrast_curve_is_monotone_and_keeps_the_median():
    curve = contrast_curve(0.5, np.random.default_rng(3))
    values = np.linspace(0.0, 8.0, 200)
    assert np.all(np.diff(curve(values)) > 0)
    assert curve(np.array([1.0]))[0] == pytest.approx(1.0)


def test_b_value_is_drawn_in_range():
    values = {simulate_case(s, _with(b_value=(700.0, 1400.0)), pattern="none").acquisition.b_value
              for s in range(4)}
    assert all(700.0 <= v <= 1400.0 for v in values) and len(values) == 4


def test_regional_contrast_scales_the_posterior_fossa_only():
    options = Randomisation(regional_contrast=0.4)
    plain = simulate_case(6, _with(), pattern="none", pose=RigidPose())
    regional = simulate_case(6, _with(regional_contrast=0.4), pattern="none", pose=RigidPose())
    draw = options.streams(6)["regional_contrast"]
    s0_factor, adc_factor = np.exp(draw.normal(0.0, 0.4)), np.exp(draw.normal(0.0, 0.4 / 3))
    # Unposed head; the subject's few-percent anatomy scaling hardly moves the regions' cores.
    weight = anatomy.posterior_fossa_weight(plain.grid.shape_xyz, plain.affine)
    # Parenchyma without CSF partial volume (a brighter parenchyma would outweigh the CSF in a mix).
    adc_mm2 = plain.adc * plain.acquisition.adc_unit
    brain = (plain.brain_mask > 0) & (adc_mm2 > 0.5e-3) & (adc_mm2 < 0.9e-3) & (regional.adc > 0)
    fossa, cerebrum = brain & (weight > 0.99), brain & (weight < 1e-3)
    adc_ratio = regional.adc / np.where(brain, plain.adc, 1.0)
    assert np.median(adc_ratio[cerebrum]) == pytest.approx(1.0, abs=0.005)
    assert np.median(adc_ratio[fossa]) == pytest.approx(adc_factor, abs=0.3 * abs(adc_factor - 1.0))
    b_value = plain.acquisition.b_value
    dwi_ratio = regional.dwi / np.where(brain, plain.dwi, 1.0)
    expected_dwi = s0_factor * np.exp(-b_value * 0.75e-3 * (adc_factor - 1.0))
    relative = np.median(dwi_ratio[fossa]) / np.median(dwi_ratio[cerebrum])
    assert relative == pytest.approx(expected_dwi, abs=0.3 * abs(expected_dwi - 1.0))
    np.testing.assert_array_equal(plain.lesion, regional.lesion)


def test_mimics_are_bright_on_dwi_but_not_labelled():
    case = simulate_case(4, _with(mimics=4.0), pattern="none")
    plain = simulate_case(4, _with(), pattern="none")
    assert case.mimics and case.lesion.sum() == 0
    brain = plain.brain_mask > 0
    # Shine-through and chronic infarcts raise the ADC (or keep it): never an acute-like drop on average.
    changed = brain & (np.abs(case.adc - plain.adc) > 0.2 * np.abs(plain.adc))
    assert changed.sum() > 50
    assert np.median(case.adc[changed]) > np.median(plain.adc[changed])


def test_phase_encode_pile_up_brightens_the_poles_on_both_b_values_and_keeps_the_adc():
    plain = simulate_case(8, _with(), pattern="none", pose=RigidPose())
    piled = simulate_case(8, _with(phase_encode_pile_up=1.0), pattern="none", pose=RigidPose())
    assert piled.mimics == ("phase_encode_pile_up",) and piled.lesion.sum() == 0
    brain = (plain.brain_mask > 0) & (plain.dwi > 0) & (piled.adc > 0)
    ratio = piled.dwi / np.where(brain, plain.dwi, 1.0)
    brighter = brain & (ratio > 1.2)
    assert brighter.sum() > 100
    y = (plain.affine @ np.vstack([np.argwhere(brighter).T, np.ones(int(brighter.sum()))]))[1]
    assert np.mean((y > 5.0) | (y < -45.0)) > 0.95, "the bright band lies at the frontal or occipital pole"
    adc_ratio = piled.adc[brighter] / plain.adc[brighter]
    assert np.median(np.abs(np.log(adc_ratio))) < 0.1 < np.median(np.log(ratio[brighter]))


def test_imperfect_skull_stripping_moves_the_border_both_ways():
    brain = np.zeros((40, 40, 40), bool)
    brain[8:32, 8:32, 8:32] = True
    kept = [stripped_brain(brain, (1.0, 1.0, 1.0), 4.0, np.random.default_rng(s)) for s in range(6)]
    assert any((k & ~brain).any() for k in kept)  # reaches past the brain somewhere
    assert any((brain & ~k).any() for k in kept)  # cuts into it somewhere
    assert all(abs(int(k.sum()) - int(brain.sum())) < 0.6 * brain.sum() for k in kept)


def test_truth_is_cut_to_what_the_stripping_kept():
    case = simulate_case(6, _with(skull_strip_error_mm=4.0), pattern="single", volume_ml=30.0)
    assert not (case.lesion.astype(bool) & ~case.brain_mask.astype(bool)).any()
    assert not case.dwi[case.brain_mask == 0].any()


def test_native_grid_is_drawn_within_the_ranges():
    for seed in range(5):
        grid = RANDOMISED.sample_grid(RANDOMISED.streams(seed)["native_slices_mm"])
        assert 0.9 <= grid.spacing_xyz[0] == grid.spacing_xyz[1] <= 2.0
        assert 2.0 <= grid.spacing_xyz[2] <= 6.5


def test_mapping_to_the_reference_follows_the_pose():
    # A head posed in the scanner, mapped back with its known pose, lands where an unposed head does.
    domain = dataclasses.replace(get_domain("isles22-like"), snr=(400.0, 400.0))
    posed = simulate_case(3, domain, pattern="none", pose=RigidPose((8.0, 0.0, 5.0), (5.0, -4.0, 3.0)))
    upright = simulate_case(3, domain, pattern="none", grid="reference", pose=RigidPose())
    dwi, _, _ = reference_arrays(posed, RigidPose(), adc_unit=1e-6)
    mapped, truth = dwi > 0, upright.brain_mask > 0
    assert 2 * (mapped & truth).sum() / (mapped.sum() + truth.sum()) > 0.97
    shifted, _, _ = reference_arrays(posed, RigidPose((0.0, 0.0, 0.0), (6.0, 0.0, 0.0)), adc_unit=1e-6)
    off = shifted > 0
    assert 2 * (off & truth).sum() / (off.sum() + truth.sum()) < 0.97


@pytest.mark.parametrize("options", [
    {"b_value": (0.0, 10.0)},
    {"atrophy": 1.0},
    {"mimics": -1.0},
    {"regional_contrast": -0.1},
    {"phase_encode_pile_up": 1.5},
    {"susceptibility": 1.2},
    {"lesion_adc_reduction": (0.2, 0.95)},
    {"native_slices_mm": (6.0, 2.0)},
])
def test_bad_options_are_refused(options):
    with pytest.raises(ISLAError):
        Randomisation(**options)


def test_randomised_dataset_cases_go_through_the_native_path(tmp_path):
    import json

    import nibabel as nib

    from isla_nnunet import reference
    from isla_nnunet.simulation import write_nnunet_dataset

    folder = write_nnunet_dataset(tmp_path, 611, "Rand", n_train=2, domain="randomised")
    records = json.loads((folder / "simulation.json").read_text())["cases"]
    for case_id, record in records.items():
        assert record["grid"]["name"].startswith("native-") and "registration_jitter" in record
        label = nib.load(folder / "labelsTr" / f"{case_id}.nii.gz")
        assert label.shape == reference.SHAPE_XYZ
        assert np.allclose(label.affine, reference.affine())
        assert int(np.asarray(label.dataobj).sum()) * 0.00486 == pytest.approx(
            record["reference_lesion_volume_ml"], abs=1e-3)
