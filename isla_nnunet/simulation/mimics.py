"""Things that look bright on DWI but are not acute infarcts, so a model learns to leave them out.

- *T2 shine-through* (white-matter hyperintensities, gliosis): a long T2 raises the b=0 signal, so
  the DWI is bright although the ADC is normal or raised (Burdette et al., Radiology
  1999;212:333-339).
- *Chronic infarcts*: old territorial or lacunar infarcts with a high ADC (towards CSF) and a raised
  T2; bright on ADC, iso- or hypo-intense on DWI.
- *Susceptibility artefacts*: echo-planar DWI piles signal up (bright) and drops it out (dark) next to
  air and bone at the skull base (frontal sinuses, temporal poles and bones, petrous bones). Both
  b-values are hit, not quite equally, so the ADC there is off too. The air-bone interfaces come in
  pairs (both petrous bones, both middle cranial fossae), so one scan often shows the artefact on both
  sides, unequal with head tilt and shimming, and at more than one site.
- *Phase-encoding pile-up*: echo-planar images are distorted along the phase-encoding axis
  (anterior-posterior in axial stroke protocols), where field inhomogeneity compresses signal
  into a bright band at the brain's surface, mostly at the frontal and occipital poles (Jezzard and
  Balaban, Magn Reson Med 1995;34:65-73). Both b-values are displaced alike, so the ADC stays near
  normal while the DWI is bright.

Mimics never overlap the acute lesion (they keep 4 mm away) and are never labelled.

Example:
    >>> import numpy as np
    >>> from isla_nnunet.simulation import anatomy, geometry
    >>> from isla_nnunet.simulation.mimics import simulate_mimics
    >>> grid = geometry.get_grid("reference")
    >>> fractions = anatomy.tissue_fractions(grid, grid.affine())
    >>> parenchyma = fractions["gm"] + fractions["wm"]
    >>> none = np.zeros(grid.shape_xyz, bool)
    >>> mimics = simulate_mimics(2.0, parenchyma, none, grid.affine(), grid.spacing_xyz,
    ...                          np.random.default_rng(4))
    >>> len(mimics.kinds) >= 0 and mimics.s0_factor.shape == grid.shape_xyz
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, special

from isla_nnunet.errors import ISLAError
from isla_nnunet.simulation.anatomy import smooth_texture, template_coordinates
from isla_nnunet.simulation.lesions import TERRITORIES, LesionSpec, simulate_lesions

KINDS = ("shine_through", "chronic_infarct")
# (kind, patterns, volume range in ml, S0 rise range, ADC factor range)
_LOOKS = {
    "shine_through": (("scattered", "single"), (0.5, 15.0), (0.4, 1.2), (1.0, 1.35)),
    "chronic_infarct": (("single", "lacunar"), (0.5, 60.0), (0.3, 1.0), (1.6, 2.8)),
}
_CLEARANCE_MM = 4.0
# Where susceptibility artefacts sit (MNI mm box, x y z): above the frontal sinuses and orbits, beside
# the temporal bones, at the temporal poles in the middle cranial fossa (next to the sphenoid sinus and
# greater wing), and in the posterior fossa over the petrous bones and mastoid air cells (the
# cerebellar hemispheres and pons). The lateral sites are drawn on either side.
_SUSCEPTIBILITY_SITES = {
    "orbitofrontal": ((-15.0, 15.0), (30.0, 55.0), (-28.0, -14.0)),
    "temporal": ((35.0, 55.0), (-35.0, -5.0), (-38.0, -24.0)),
    "temporal_pole": ((25.0, 45.0), (5.0, 22.0), (-42.0, -26.0)),
    "posterior_fossa": ((10.0, 40.0), (-70.0, -40.0), (-50.0, -28.0)),
}
_MIRRORED_SITES = ("temporal", "temporal_pole", "posterior_fossa")
# How often a paired (lateral) site shows the artefact on both sides.
_BILATERAL = 0.6
# Phase-encoding pile-up: the band's depth below the brain's surface (mm, e-folding); per pole, the
# template y (mm) where its reach starts and the direction towards the pole; the logistic scale of
# the reach's edge (2.5 mm: 10% to 90% over ~11 mm); how much the band raises the signal at the surface.
_PILE_UP_DEPTH_MM = (1.5, 4.0)
_PILE_UP_POLES = {"frontal": ((15.0, 40.0), 1.0), "occipital": ((-80.0, -55.0), -1.0)}
_PILE_UP_EDGE_MM = 2.5
_PILE_UP_GAIN = (0.3, 1.0)


@dataclass(frozen=True)
class Mimics:
    """Multipliers of the parenchyma's b=0 signal and ADC, and what was drawn (kind per mimic)."""

    s0_factor: np.ndarray
    adc_factor: np.ndarray
    kinds: tuple[str, ...]
    mask: np.ndarray


def simulate_mimics(
    mean_count: float,
    parenchyma: np.ndarray,
    lesion: np.ndarray,
    voxel_to_mni: np.ndarray,
    spacing_xyz,
    rng: np.random.Generator,
) -> Mimics:
    """Draw a Poisson(``mean_count``) number of shine-through regions and chronic infarcts.

    Args:
        mean_count: mean number of mimics per case.
        parenchyma: GM + WM fraction of the grid.
        lesion: the acute lesion mask (bool); mimics keep clear of it.
        voxel_to_mni: voxel indices -> template mm, as for the lesions.
        spacing_xyz: voxel spacing in mm.
        rng: the generator of the ``mimics`` option.
    """
    shape = parenchyma.shape
    s0 = np.ones(shape, np.float32)
    adc = np.ones(shape, np.float32)
    mask = np.zeros(shape, bool)
    kinds = []
    clearance = ndimage.distance_transform_edt(~lesion, sampling=spacing_xyz) > _CLEARANCE_MM if lesion.any() else None
    for _ in range(int(rng.poisson(mean_count))):
        kind = KINDS[int(rng.integers(len(KINDS)))]
        patterns, volumes, s0_rise, adc_range = _LOOKS[kind]
        pattern = patterns[int(rng.integers(len(patterns)))]
        volume = float(np.exp(rng.uniform(*np.log(volumes))))
        if pattern == "lacunar":
            volume = min(volume, 1.8)
        territory = "deep" if pattern == "lacunar" else str(
            rng.choice([n for n, t in TERRITORIES.items() if t.root_mm is not None]))
        spec = LesionSpec(pattern, round(volume, 3), "left" if rng.random() < 0.5 else "right", territory)
        free = parenchyma if clearance is None else parenchyma * clearance
        try:
            drawn = simulate_lesions(spec, free * ~mask, voxel_to_mni, spacing_xyz, rng)
        except ISLAError:
            continue  # no room left for this one; the others still count
        profile = drawn.adc_reduction / np.float32(spec.adc_reduction)
        s0 *= 1.0 + np.float32(rng.uniform(*s0_rise)) * profile
        adc *= 1.0 + np.float32(rng.uniform(*adc_range) - 1.0) * profile
        mask |= drawn.mask
        kinds.append(kind)
    return Mimics(s0, adc, tuple(kinds), mask)


def susceptibility_fields(
    shape, voxel_to_mni: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Multiplicative artefact fields for the b=0 and the diffusion-weighted signal.

    One to three sites are drawn (1 + Binomial(2, 0.35)); at each, a pile-up lobe (x 1.5-4) sits next to
    a drop-out lobe (x 0.2-0.7) about 10 mm below it. A lateral site is hit on one side or, with
    probability ``_BILATERAL``, on both, the second side with its own lobe size and 0.4-1.0 of the
    first side's pile-up. The diffusion-weighted image gets the b=0 field raised to one power in
    [0.7, 1.3], so the computed ADC is disturbed there as well.
    """
    coords = template_coordinates(shape, voxel_to_mni)

    def lobe(where, sigma):
        distance = sum(((c - np.float32(w)) / np.float32(s)) ** 2 for c, w, s in zip(coords, where, sigma, strict=True))
        return np.exp(-0.5 * distance).astype(np.float32)

    def artefact(centre, strength):
        sigma = rng.uniform(5.0, 12.0, 3)
        pile_up = np.float32(strength) * lobe(centre, sigma)
        drop_out = np.float32(rng.uniform(0.3, 0.8)) * lobe(centre - np.array([0.0, 0.0, 10.0]), sigma)
        return (1.0 + pile_up) * (1.0 - drop_out)

    s0_field = np.ones(shape, np.float32)
    for _ in range(1 + int(rng.binomial(2, 0.35))):
        site = list(_SUSCEPTIBILITY_SITES)[int(rng.integers(len(_SUSCEPTIBILITY_SITES)))]
        box = np.array(_SUSCEPTIBILITY_SITES[site])
        centre = rng.uniform(box[:, 0], box[:, 1])
        strength = rng.uniform(0.5, 3.0)
        if site in _MIRRORED_SITES and rng.random() < 0.5:
            centre[0] = -centre[0]
        s0_field *= artefact(centre, strength)
        if site in _MIRRORED_SITES and rng.random() < _BILATERAL:
            s0_field *= artefact(centre * np.array([-1.0, 1.0, 1.0]), strength * rng.uniform(0.4, 1.0))
    dwi_field = s0_field ** np.float32(rng.uniform(0.7, 1.3))
    return s0_field.astype(np.float32), dwi_field.astype(np.float32)


def phase_encode_pile_up(brain: np.ndarray, voxel_to_mni: np.ndarray, spacing_xyz,
                         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Multiplicative b=0 and DWI fields of an echo-planar pile-up at the frontal and/or occipital pole.

    A band under the brain's surface (e-folding depth 1.5-4 mm) is raised at the surface by x1.3-2.0
    on average, patchy along it (times a smooth texture of mean 1 and s.d. 0.5, cut at 0), at the
    frontal end, the occipital end or both, fading over ~10 mm towards the centre. The DWI field is
    the b=0 field to a power in [0.85, 1.15]: the displacement hits both b-values alike, so the ADC
    barely moves.

    Args:
        brain: the brain mask (bool, grid shape) whose surface the band follows.
        voxel_to_mni: voxel indices -> template mm.
        spacing_xyz: voxel spacing in mm.
        rng: the generator of the ``phase_encode_pile_up`` option.

    Returns:
        ``(s0_field, dwi_field)``, float32 arrays of the grid's shape, 1 away from the band.
    """
    depth = ndimage.distance_transform_edt(brain, sampling=spacing_xyz).astype(np.float32)
    band = np.where(brain, np.exp(-depth / np.float32(rng.uniform(*_PILE_UP_DEPTH_MM))), 0.0).astype(np.float32)
    y = template_coordinates(brain.shape, voxel_to_mni)[1]
    poles = [("frontal", "occipital"), ("frontal",), ("occipital",)][int(rng.integers(3))]
    reach = np.zeros(brain.shape, np.float32)
    for pole in poles:
        starts, towards_pole = _PILE_UP_POLES[pole]
        start = np.float32(rng.uniform(*starts))
        reach = np.maximum(reach, special.expit(np.float32(towards_pole) * (y - start) / np.float32(_PILE_UP_EDGE_MM)))
    patches = np.clip(1.0 + 0.5 * smooth_texture(brain.shape, spacing_xyz, rng, scale_mm=15.0), 0.0, None)
    s0_field = 1.0 + np.float32(rng.uniform(*_PILE_UP_GAIN)) * band * reach * patches.astype(np.float32)
    dwi_field = s0_field ** np.float32(rng.uniform(0.85, 1.15))
    return s0_field.astype(np.float32), dwi_field.astype(np.float32)
