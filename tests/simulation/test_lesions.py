import cc3d
import numpy as np
import pytest

from isla_nnunet.errors import ISLAError
from isla_nnunet.simulation import anatomy, lesions
from isla_nnunet.simulation.geometry import get_grid

GRID = get_grid("reference")
VOXEL_ML = GRID.voxel_volume_ml


def deepisles_pattern(mask: np.ndarray) -> str:
    """The stroke-pattern rules of DeepISLES (ISLA_SPEC §8), written out independently."""
    labels = cc3d.connected_components(mask.astype(np.uint8), connectivity=26)
    sizes = np.bincount(labels.ravel())[1:]
    if sizes.size == 0:
        return "none"
    total, largest = sizes.sum(), sizes.max()
    if largest > 0.95 * total:
        return "single"
    if sizes.size >= 3 and (largest < 0.6 * total or total * VOXEL_ML < 5.0):
        return "scattered"
    return "mixed"


@pytest.fixture(scope="module")
def parenchyma():
    fractions = anatomy.tissue_fractions(GRID, GRID.affine())
    return fractions["gm"] + fractions["wm"]


def draw(parenchyma, seed, **spec):
    spec = lesions.LesionSpec(**spec)
    return lesions.simulate_lesions(
        spec, parenchyma, GRID.affine(), GRID.spacing_xyz, np.random.default_rng(seed)
    )


@pytest.mark.parametrize(
    "seed, pattern, volume_ml, territory",
    [
        (1, "lacunar", 0.3, "deep"),
        (2, "single", 150.0, "MCA"),
        (3, "single", 12.0, "PCA"),
        (4, "single", 5.0, "cerebellar"),
        (5, "scattered", 0.4, "MCA"),
        (6, "scattered", 6.0, "ACA"),
        (7, "mixed", 40.0, "MCA"),
    ],
)
def test_volume_and_stroke_pattern(parenchyma, seed, pattern, volume_ml, territory):
    drawn = draw(parenchyma, seed, pattern=pattern, volume_ml=volume_ml, territory=territory, side="left")
    measured_ml = np.count_nonzero(drawn.mask) * VOXEL_ML
    assert measured_ml == pytest.approx(volume_ml, rel=0.10)
    assert np.all(parenchyma[drawn.mask] >= 0.5)
    expected = {"lacunar": "single"}.get(pattern, pattern)
    assert deepisles_pattern(drawn.mask) == expected


def test_territorial_lesion_stays_in_its_hemisphere(parenchyma):
    drawn = draw(parenchyma, 11, pattern="single", volume_ml=60.0, side="right")
    x_mm = (np.argwhere(drawn.mask) @ GRID.affine()[:3, :3].T + GRID.affine()[:3, 3])[:, 0]
    assert np.all(x_mm > 0)  # RAS: right is +x


def test_adc_reduction_map(parenchyma):
    drawn = draw(parenchyma, 12, pattern="single", volume_ml=20.0, adc_reduction=0.4)
    assert np.median(drawn.adc_reduction[drawn.mask]) == pytest.approx(0.4, abs=0.01)
    assert drawn.adc_reduction.max() <= 0.85
    # Partial volume: the drop fades across the border instead of stopping at the mask.
    rim = (drawn.adc_reduction > 0.02) & ~drawn.mask
    assert rim.any() and np.median(drawn.adc_reduction[rim]) < 0.4
    assert np.all(drawn.adc_reduction[parenchyma == 0] <= 0.85)


def test_no_lesion(parenchyma):
    drawn = draw(parenchyma, 13, pattern="none")
    assert not drawn.mask.any() and not drawn.adc_reduction.any()


def test_spec_sampling():
    rng = np.random.default_rng(0)
    specs = [lesions.sample_lesion_spec(rng) for _ in range(300)]
    assert {s.pattern for s in specs} == set(lesions.PATTERNS)
    for spec in specs:
        if spec.pattern == "none":
            assert spec.volume_ml == 0
        else:
            low, high = lesions.VOLUME_RANGES_ML[spec.pattern]
            assert low <= spec.volume_ml <= high
        assert 0.3 <= spec.adc_reduction <= 0.6
    volumes = [s.volume_ml for s in specs if s.pattern != "none"]
    assert min(volumes) < 0.5 and max(volumes) > 100
    fixed = lesions.sample_lesion_spec(np.random.default_rng(1), pattern="mixed", volume_ml=33.0)
    assert (fixed.pattern, fixed.volume_ml) == ("mixed", 33.0)
    only_single = lesions.sample_lesion_spec(np.random.default_rng(2), pattern_weights={"single": 1.0})
    assert only_single.pattern == "single"


def test_spec_errors():
    with pytest.raises(ISLAError, match="pattern"):
        lesions.LesionSpec("huge", 1.0)
    with pytest.raises(ISLAError, match="volume"):
        lesions.LesionSpec("single", 0.0)
    with pytest.raises(ISLAError, match="territory"):
        lesions.LesionSpec("single", 1.0, territory="SCA")
    with pytest.raises(ISLAError, match="lacunar"):
        lesions.LesionSpec("single", 1.0, territory="deep")
    with pytest.raises(ISLAError, match="weights"):
        lesions.sample_lesion_spec(np.random.default_rng(0), pattern_weights={"single": -1.0})
