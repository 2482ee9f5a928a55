import subprocess
import sys

import numpy as np
import pytest

from isla_nnunet.errors import ISLAError
from isla_nnunet.simulation import anatomy
from isla_nnunet.simulation.geometry import get_grid


@pytest.fixture(scope="module")
def reference_fractions():
    grid = get_grid("reference")
    return grid, anatomy.tissue_fractions(grid, grid.affine())


def test_pure_tissue_signal_follows_the_monoexponential_model():
    one = np.ones((1, 1, 1), np.float32)
    for name, tissue in anatomy.TISSUES.items():
        images = anatomy.diffusion_images({name: one}, b_value=1000.0)
        assert images.s0[0, 0, 0] == pytest.approx(tissue.s0, rel=1e-6)
        assert images.dwi[0, 0, 0] == pytest.approx(tissue.s0 * np.exp(-1000.0 * tissue.adc), rel=1e-5)
        assert images.adc[0, 0, 0] == pytest.approx(tissue.adc, rel=1e-4)


def test_partial_volume_mixes_signals_not_adcs():
    half = np.full((1, 1, 1), 0.5, np.float32)
    gm, csf = anatomy.TISSUES["gm"], anatomy.TISSUES["csf"]
    images = anatomy.diffusion_images({"gm": half, "csf": half}, b_value=800.0)
    s0 = 0.5 * gm.s0 + 0.5 * csf.s0
    sb = 0.5 * gm.s0 * np.exp(-800 * gm.adc) + 0.5 * csf.s0 * np.exp(-800 * csf.adc)
    assert images.adc[0, 0, 0] == pytest.approx(np.log(s0 / sb) / 800.0, rel=1e-4)
    assert gm.adc < images.adc[0, 0, 0] < csf.adc


def test_literature_adc_values():
    # Helenius et al. 2002 (GM ~0.8e-3, WM ~0.7e-3 mm^2/s); free water at 37 C ~3.0e-3 mm^2/s.
    assert anatomy.TISSUES["gm"].adc == pytest.approx(0.8e-3, rel=0.1)
    assert anatomy.TISSUES["wm"].adc == pytest.approx(0.7e-3, rel=0.1)
    assert anatomy.TISSUES["csf"].adc == pytest.approx(3.0e-3, rel=0.1)


def test_tissue_medians_on_the_reference_grid(reference_fractions):
    grid, fractions = reference_fractions
    images = anatomy.diffusion_images(fractions, b_value=1000.0)
    for name, expected in (("gm", 0.80e-3), ("wm", 0.70e-3), ("csf", 3.0e-3)):
        pure = fractions[name] > 0.9
        assert pure.sum() > 1000, name
        assert np.median(images.adc[pure]) == pytest.approx(expected, rel=0.1), name
    # b1000 DWI: CSF dark, cortex a little brighter than white matter.
    dwi = {name: np.median(images.dwi[fractions[name] > 0.9]) for name in ("gm", "wm", "csf")}
    assert dwi["csf"] < 0.5 * dwi["wm"] < 0.5 * dwi["gm"]


def test_brain_size_and_fractions(reference_fractions):
    grid, fractions = reference_fractions
    for values in fractions.values():
        assert values.dtype == np.float32 and values.min() >= 0 and values.max() <= 1.0 + 1e-6
    total = sum(fractions.values())
    assert total.max() <= 1.0 + 3 / 255  # fractions are cached as uint8
    intracranial_ml = float(total.sum()) * grid.voxel_volume_ml
    assert 1400 < intracranial_ml < 2300  # MNI152 space is a little larger than an average head
    assert set(anatomy.tissue_fractions(grid, grid.affine(), head=True)) == {
        "gm",
        "wm",
        "csf",
        "skull",
        "scalp",
    }


def test_unknown_tissue_and_bad_b_value_are_user_errors():
    one = np.ones((1, 1, 1), np.float32)
    with pytest.raises(ISLAError, match="tissue"):
        anatomy.diffusion_images({"bone marrow": one}, b_value=1000.0)
    with pytest.raises(ISLAError, match="b-value"):
        anatomy.diffusion_images({"wm": one}, b_value=0.0)


def test_templates_come_from_the_nilearn_wheel_without_network():
    code = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise RuntimeError('network access')\n"
        "socket.socket.connect = refuse; socket.create_connection = refuse\n"
        "from isla_nnunet.simulation import anatomy\n"
        "path = anatomy._template_path('gm')\n"
        "assert path.is_file() and 'nilearn' in path.parts, path\n"
        "anatomy._template()\n"
        "assert 'nilearn.datasets' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("where_mm, expected", [
    ((0.0, -60.0, -35.0), 1.0),    # vermis / cerebellar hemispheres
    ((30.0, -70.0, -40.0), 1.0),   # lateral cerebellum
    ((0.0, -30.0, -32.0), 1.0),    # pons
    ((20.0, -85.0, 10.0), 0.0),    # occipital lobe above the tentorium
    ((45.0, 0.0, -30.0), 0.0),     # temporal pole
    ((0.0, 20.0, 30.0), 0.0),      # frontal white matter
    ((15.0, -15.0, 5.0), 0.0),     # thalamus
])
def test_posterior_fossa_weight_at_landmarks(where_mm, expected):
    grid = get_grid("reference")
    weight = anatomy.posterior_fossa_weight(grid.shape_xyz, grid.affine())
    ijk = np.linalg.solve(grid.affine(), [*where_mm, 1.0])[:3]
    assert weight[tuple(np.round(ijk).astype(int))] == pytest.approx(expected, abs=0.05)


def test_template_coordinates_follow_the_affine():
    affine = np.array([[-2.0, 0, 0, 90], [0, 2.0, 0, -126], [0, 0, 3.0, -72], [0, 0, 0, 1]])
    x, y, z = np.broadcast_arrays(*anatomy.template_coordinates((4, 5, 6), affine))
    assert (x[3, 0, 0], y[0, 4, 0], z[0, 0, 5]) == (84.0, -118.0, -57.0)
