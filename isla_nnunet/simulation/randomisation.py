"""Domain randomisation: named, seedable options that widen what simulated cases look like.

A model trained on one scanner look fails on another; a model trained on many looks learns what
stays the same, the lesion (the SynthSeg idea, Billot et al., Med Image Anal 2023;86:102789; for
stroke: Chalcroft et al., "Synthetic Data for Robust Stroke Segmentation", MELBA 2025). Each field of
:class:`Randomisation` is one option, off at its default, and draws from its own random stream of
the case seed (:meth:`Randomisation.streams`), so switching one option on or off leaves every other
draw of the case unchanged.

=========================  ===================================================================
option                     what it varies
=========================  ===================================================================
``b_value``                diffusion weighting (s/mm^2), drawn uniformly in the range
``tissue_contrast``        per-tissue b=0 signal (log-normal, this s.d.; ADC gets a third of it)
``regional_contrast``      the same for the parenchyma of the posterior fossa (cerebellum, brainstem)
``contrast_curve``         a random monotone intensity curve on the DWI (vendor windowing)
``deformation_mm``         a smooth random displacement of the anatomy (amplitude in mm)
``atrophy``                up to this share of the parenchyma beside CSF turned into CSF
``lesion_adc_reduction``   range of the lesion's median ADC drop (subtle to obvious)
``lesion_t2_gain``         range of the lesion's b=0 rise
``mimics``                 mean number of hyperintense look-alikes that are not lesions
                           (:mod:`isla_nnunet.simulation.mimics`)
``susceptibility``         probability of a skull-base susceptibility artefact
``phase_encode_pile_up``   probability of an echo-planar pile-up band at the frontal/occipital pole
``skull_strip_error_mm``   largest signed error of the brain mask's border (rims, cut cortex)
``native_slices_mm``       slice-thickness range of a native grid drawn per case; the case is
                           then mapped onto the reference grid the way ``isla predict`` maps a scan
``registration_jitter``    (degrees, mm) error of that mapping, per axis
=========================  ===================================================================

Example:
    >>> import numpy as np
    >>> from isla_nnunet.simulation.randomisation import RANDOMISED, Randomisation
    >>> Randomisation().active()
    ()
    >>> grid = RANDOMISED.sample_grid(RANDOMISED.streams(3)["native_slices_mm"])
    >>> 2.0 <= grid.spacing_xyz[2] <= 6.5
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

import numpy as np
from scipy import ndimage

from isla_nnunet.errors import ISLAError
from isla_nnunet.simulation.anatomy import smooth_texture
from isla_nnunet.simulation.geometry import Grid, RigidPose

# Field of view of a drawn native grid (mm, x y z): a head with room around it, as axial stroke
# protocols cover it (ISLES'22: 224 x 224 x 146 mm; SOOP: 230 x 230 x 156 mm).
NATIVE_FIELD_OF_VIEW_MM = (230.0, 230.0, 150.0)
# Spatial scale of the smooth fields (deformation, skull-stripping error), in mm.
_DEFORMATION_SCALE_MM = 30.0
_STRIP_SCALE_MM = 25.0
# The random contrast curve's knots, in units of the brain's median DWI intensity.
_CURVE_KNOTS = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 50.0])
# Options whose value is the probability that a case gets the artefact at all.
PROBABILITY_OPTIONS = ("susceptibility", "phase_encode_pile_up")


@dataclass(frozen=True)
class Randomisation:
    """Domain-randomisation options (see the module docstring); all off by default."""

    b_value: tuple[float, float] | None = None
    tissue_contrast: float = 0.0
    regional_contrast: float = 0.0
    contrast_curve: float = 0.0
    deformation_mm: float = 0.0
    atrophy: float = 0.0
    lesion_adc_reduction: tuple[float, float] | None = None
    lesion_t2_gain: tuple[float, float] | None = None
    mimics: float = 0.0
    susceptibility: float = 0.0
    phase_encode_pile_up: float = 0.0
    skull_strip_error_mm: float = 0.0
    native_slices_mm: tuple[float, float] | None = None
    native_inplane_mm: tuple[float, float] = (0.9, 2.0)
    registration_jitter: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self):
        for name in ("b_value", "lesion_adc_reduction", "lesion_t2_gain", "native_slices_mm",
                     "native_inplane_mm"):
            value = getattr(self, name)
            if value is not None and not 0 <= value[0] <= value[1]:
                raise ISLAError(f"randomisation {name}: need 0 <= low <= high, got {value}")
        for name in ("tissue_contrast", "regional_contrast", "contrast_curve", "deformation_mm", "atrophy", "mimics",
                     "susceptibility", "phase_encode_pile_up", "skull_strip_error_mm"):
            if getattr(self, name) < 0:
                raise ISLAError(f"randomisation {name} must be >= 0, got {getattr(self, name)}")
        if self.atrophy >= 1:
            raise ISLAError(f"randomisation atrophy must be < 1, got {self.atrophy}")
        for name in PROBABILITY_OPTIONS:
            if getattr(self, name) > 1:
                raise ISLAError(f"randomisation {name} is a probability: need <= 1, got {getattr(self, name)}")
        if self.b_value is not None and self.b_value[0] <= 0:
            raise ISLAError(f"randomisation b_value range must be positive, got {self.b_value}")
        reduction = self.lesion_adc_reduction
        if reduction is not None and not 0 < reduction[0] <= reduction[1] < 0.9:
            raise ISLAError(f"lesion ADC reduction range must lie in (0, 0.9), got {reduction}")
        if self.native_slices_mm is not None and self.native_slices_mm[0] <= 0:
            raise ISLAError(f"native slice thickness must be positive, got {self.native_slices_mm}")

    def active(self) -> tuple[str, ...]:
        """Names of the options that are switched on."""
        default = Randomisation()
        return tuple(f.name for f in fields(self)
                     if f.name != "native_inplane_mm" and getattr(self, f.name) != getattr(default, f.name))

    def to_dict(self) -> dict:
        return asdict(self)

    def streams(self, seed: int) -> dict[str, np.random.Generator]:
        """One generator per option, derived from the case seed and the option's name."""
        out = {}
        for f in fields(self):
            key = [int(b) for b in f.name.encode()]
            out[f.name] = np.random.default_rng(np.random.SeedSequence([int(seed), 7, *key]))
        return out

    def sample_grid(self, rng: np.random.Generator) -> Grid:
        """A native axial grid: in-plane spacing and slice thickness drawn uniformly, fixed field of view."""
        if self.native_slices_mm is None:
            raise ISLAError("native_slices_mm is not set: no native grid to draw")
        inplane = round(float(rng.uniform(*self.native_inplane_mm)), 3)
        thickness = round(float(rng.uniform(*self.native_slices_mm)), 3)
        spacing = (inplane, inplane, thickness)
        shape = tuple(int(np.ceil(f / s)) for f, s in zip(NATIVE_FIELD_OF_VIEW_MM, spacing, strict=True))
        return Grid(f"native-{inplane:g}x{inplane:g}x{thickness:g}", shape, spacing)

    def sample_jitter(self, rng: np.random.Generator) -> RigidPose:
        """A small rigid error of the native -> reference mapping, uniform within the jitter range."""
        degrees, mm = self.registration_jitter
        return RigidPose.random(rng, (degrees,) * 3, (mm,) * 3)


def tissue_factors(names, strength: float, rng: np.random.Generator) -> dict[str, tuple[float, float]]:
    """Per-tissue (S0, ADC) multipliers: log-normal with s.d. ``strength`` and ``strength / 3``."""
    return {name: (float(np.exp(rng.normal(0.0, strength))), float(np.exp(rng.normal(0.0, strength / 3))))
            for name in names}


def regional_factors(weight: np.ndarray, strength: float,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(S0, ADC) multiplier maps for one region: log-normal factors with s.d. ``strength`` and
    ``strength / 3`` at full ``weight``, fading to 1 where the weight falls to 0."""
    log_s0, log_adc = rng.normal(0.0, strength), rng.normal(0.0, strength / 3)
    return np.exp(np.float32(log_s0) * weight), np.exp(np.float32(log_adc) * weight)


def contrast_curve(strength: float, rng: np.random.Generator) -> Callable[[np.ndarray], np.ndarray]:
    """A random monotone curve on intensities normalised to the brain median (1 stays 1).

    Piecewise linear through :data:`_CURVE_KNOTS`, each segment's slope multiplied by a log-normal
    factor of s.d. ``strength``; order is preserved, so brighter stays brighter.

    Example:
        >>> import numpy as np
        >>> curve = contrast_curve(0.3, np.random.default_rng(0))
        >>> values = curve(np.array([0.0, 0.5, 1.0, 2.0]))
        >>> bool(np.all(np.diff(values) > 0)), float(values[2])
        (True, 1.0)
    """
    slopes = np.exp(rng.normal(0.0, strength, len(_CURVE_KNOTS) - 1))
    levels = np.concatenate([[0.0], np.cumsum(slopes * np.diff(_CURVE_KNOTS))])
    levels /= np.interp(1.0, _CURVE_KNOTS, levels)

    def curve(values: np.ndarray) -> np.ndarray:
        return np.interp(values, _CURVE_KNOTS, levels).astype(np.float32)

    return curve


def displacement(shape, spacing_xyz, amplitude_mm: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth random displacement field, shape ``(3, *shape)`` in mm, s.d. ``amplitude_mm`` per axis."""
    return np.stack([np.float32(amplitude_mm) * smooth_texture(shape, spacing_xyz, rng, _DEFORMATION_SCALE_MM)
                     for _ in range(3)])


def atrophy(fractions: dict[str, np.ndarray], spacing_xyz, level: float) -> dict[str, np.ndarray]:
    """Turn up to ``level`` of the parenchyma beside CSF into CSF: wider sulci and ventricles.

    The share lost falls off over ~3 mm from the CSF, so the cortex thins and the ventricles grow
    while deep white matter stays; the sum of the fractions is unchanged.
    """
    if level <= 0:
        return fractions
    near_csf = ndimage.gaussian_filter(fractions["csf"], [3.0 / s for s in spacing_xyz])
    loss = np.float32(level) * np.clip(2.0 * near_csf, 0.0, 1.0)
    out = dict(fractions)
    removed = np.zeros_like(loss)
    for name in ("gm", "wm"):
        taken = fractions[name] * loss
        out[name] = fractions[name] - taken
        removed += taken
    out["csf"] = fractions["csf"] + removed
    return out


def stripped_brain(brain: np.ndarray, spacing_xyz, error_mm: float, rng: np.random.Generator) -> np.ndarray:
    """The brain mask an imperfect skull stripping keeps: its border moved by a smooth signed error.

    Where the error is positive the mask reaches past the brain (rims of CSF, skull, scalp); where
    it is negative it cuts into the cortex. The error's mean is drawn in +-``error_mm``/2 and it
    varies by up to ``error_mm`` over ~25 mm.
    """
    if error_mm <= 0:
        return brain
    inside = ndimage.distance_transform_edt(brain, sampling=spacing_xyz)
    outside = ndimage.distance_transform_edt(~brain, sampling=spacing_xyz)
    signed = (inside - outside).astype(np.float32)
    offset = rng.uniform(-0.5, 0.5) * error_mm + 0.5 * error_mm * smooth_texture(
        brain.shape, spacing_xyz, rng, _STRIP_SCALE_MM)
    kept = signed > -np.clip(offset, -error_mm, error_mm)
    return ndimage.binary_fill_holes(kept)


DEFAULT = Randomisation()

RANDOMISED = Randomisation(
    b_value=(700.0, 1400.0),
    tissue_contrast=0.15,
    regional_contrast=0.2,
    contrast_curve=0.25,
    deformation_mm=2.5,
    atrophy=0.5,
    lesion_adc_reduction=(0.15, 0.65),
    lesion_t2_gain=(0.0, 0.8),
    mimics=2.0,
    susceptibility=0.6,
    phase_encode_pile_up=0.5,
    skull_strip_error_mm=4.0,
    native_slices_mm=(2.0, 6.5),
    registration_jitter=(1.5, 1.5),
)
