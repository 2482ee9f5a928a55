"""One simulated case: anatomy + head pose + grid + lesion + acquisition domain -> DWI, ADC, masks.

A seed fixes everything. It is split into independent streams (acquisition, pose, anatomy, lesion,
noise), so the same seed imaged under two domains gives the same subject and lesion with a different
scanner, which is handy for paired domain-shift checks.

Arrays are indexed (x, y, z) like nibabel and :attr:`SimulatedCase.affine` (voxel -> scanner world,
RAS+ mm). The subject's anatomy is the MNI152 template scaled by a few percent about the brain centre;
the :class:`~isla_nnunet.simulation.geometry.RigidPose` then places it in the scanner.

Example:
    >>> from isla_nnunet.simulation import simulate_case
    >>> case = simulate_case(7, "isles22-like", pattern="single", volume_ml=20.0)
    >>> case.dwi.shape, case.acquisition.b_value
    ((112, 112, 73), 1000.0)
    >>> abs(case.lesion_volume_ml - 20.0) < 2.0
    True
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from isla_nnunet import reference
from isla_nnunet.errors import ISLAError
from isla_nnunet.simulation import anatomy, mimics, randomisation
from isla_nnunet.simulation.acquisition import acquire
from isla_nnunet.simulation.domains import Acquisition, Domain, get_domain
from isla_nnunet.simulation.geometry import Grid, RigidPose, get_grid
from isla_nnunet.simulation.lesions import LesionSpec, sample_lesion_spec, simulate_lesions

# Per-axis scale of a subject's brain relative to the template.
ANATOMY_SCALE_RANGE = (0.94, 1.04)
# Standard deviation of the smooth regional variation of parenchymal S0 and ADC (log scale).
S0_VARIATION = 0.07
ADC_VARIATION = 0.04


@dataclass(frozen=True)
class SimulatedCase:
    """Images, masks and the truth about how they were made.

    Attributes:
        dwi, adc: stored images (float32 or int16 as the domain says); ADC in ``acquisition.adc_unit``.
        lesion: uint8 {0, 1} ground truth. brain_mask: uint8 {0, 1} intracranial mask, or the region an
            imperfect skull stripping kept (domain randomisation), where the truth is cut to it.
        affine: 4x4 voxel -> scanner world (RAS+ mm) of all arrays.
        pose: head pose; ``pose.inverse_matrix()`` maps scanner world to the reference world.
        anatomy_scale: per-axis scale of the subject's brain about the reference centre (x, y, z).
        acquisition, lesion_spec, seed, grid: the settings used.
        mimics: kinds of the unlabelled look-alikes drawn (domain randomisation; see ``mimics``).
    """

    dwi: np.ndarray
    adc: np.ndarray
    lesion: np.ndarray
    brain_mask: np.ndarray
    affine: np.ndarray
    pose: RigidPose
    anatomy_scale: tuple[float, float, float]
    acquisition: Acquisition
    lesion_spec: LesionSpec
    seed: int
    grid: Grid
    mimics: tuple[str, ...] = ()

    @property
    def lesion_volume_ml(self) -> float:
        return float(np.count_nonzero(self.lesion)) * self.grid.voxel_volume_ml

    def metadata(self) -> dict:
        """JSON-ready description (BIDS-like ``DiffusionBValue`` plus the simulation truth)."""
        return {
            "seed": int(self.seed),
            "DiffusionBValue": self.acquisition.b_value,
            "adc_unit_mm2_per_s": self.acquisition.adc_unit,
            "grid": {
                "name": self.grid.name,
                "shape_xyz": list(self.grid.shape_xyz),
                "spacing_xyz": list(self.grid.spacing_xyz),
            },
            "acquisition": self.acquisition.to_dict(),
            "lesion": {**self.lesion_spec.to_dict(), "mask_volume_ml": round(self.lesion_volume_ml, 4)},
            "pose": self.pose.to_dict(),
            "anatomy_scale": list(self.anatomy_scale),
            "mimics": list(self.mimics),
        }


def _anatomy_to_template(scale) -> np.ndarray:
    centre = np.asarray(reference.CENTER_RAS_MM, dtype=float)
    out = np.eye(4)
    out[:3, :3] = np.diag(1.0 / np.asarray(scale, dtype=float))
    out[:3, 3] = centre - out[:3, :3] @ centre
    return out


def simulate_case(
    seed: int,
    domain: str | Domain = "source",
    *,
    grid: str | Grid | None = None,
    lesion: LesionSpec | None = None,
    pattern: str | None = None,
    volume_ml: float | None = None,
    pattern_weights: dict[str, float] | None = None,
    pose: RigidPose | None = None,
) -> SimulatedCase:
    """Simulate one case.

    Args:
        seed: non-negative integer; equal seeds give identical cases.
        domain: preset name (see :data:`~isla_nnunet.simulation.domains.DOMAINS`) or a Domain.
        grid: override the domain's grid, e.g. ``"reference"`` to simulate straight onto the ISLA
            reference grid (no native grid, no resampling).
        lesion: the exact lesion to draw; otherwise drawn from the seed, with ``pattern``,
            ``volume_ml`` and ``pattern_weights`` fixing parts of the draw (see
            :func:`~isla_nnunet.simulation.lesions.sample_lesion_spec`).
        pose: the head pose; otherwise drawn within the domain's pose range.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ISLAError(f"seed must be a non-negative integer, got {seed!r}")
    if lesion is not None and (pattern is not None or volume_ml is not None):
        raise ISLAError("pass either a LesionSpec or pattern/volume_ml, not both")
    settings = get_domain(domain)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(5)]
    rng_acquisition, rng_pose, rng_anatomy, rng_lesion, rng_noise = streams

    options = settings.randomisation
    drawn = options.streams(seed)
    if grid is None and options.native_slices_mm is not None:
        grid = options.sample_grid(drawn["native_slices_mm"])
    grid = get_grid(grid if grid is not None else settings.grid)

    acquisition = settings.sample(rng_acquisition)
    if options.b_value is not None:
        acquisition = replace(acquisition, b_value=round(float(drawn["b_value"].uniform(*options.b_value)), 1))
    if pose is None:
        pose = RigidPose.random(rng_pose, settings.max_rotation_deg, settings.max_translation_mm)
    scale = tuple(float(v) for v in rng_anatomy.uniform(*ANATOMY_SCALE_RANGE, 3))
    factors = None
    if options.tissue_contrast > 0:
        factors = randomisation.tissue_factors(anatomy.TISSUES, options.tissue_contrast,
                                               drawn["tissue_contrast"])
    tissues = anatomy.jittered_tissues(rng_anatomy, factors=factors)
    if lesion is None:
        lesion = sample_lesion_spec(rng_lesion, pattern, volume_ml, pattern_weights)
        if options.lesion_adc_reduction is not None:
            reduction = float(drawn["lesion_adc_reduction"].uniform(*options.lesion_adc_reduction))
            lesion = replace(lesion, adc_reduction=reduction)
        if options.lesion_t2_gain is not None:
            lesion = replace(lesion, t2_gain=float(drawn["lesion_t2_gain"].uniform(*options.lesion_t2_gain)))

    affine = grid.affine()
    voxel_to_mni = _anatomy_to_template(scale) @ pose.inverse_matrix() @ affine
    deformation = None
    if options.deformation_mm > 0:
        deformation = randomisation.displacement(grid.shape_xyz, grid.spacing_xyz, options.deformation_mm,
                                                 drawn["deformation_mm"])
    imperfect_stripping = acquisition.skull_stripped and options.skull_strip_error_mm > 0
    fractions = anatomy.tissue_fractions(grid, voxel_to_mni, head=not acquisition.skull_stripped
                                         or imperfect_stripping, displacement_mm=deformation)
    if options.atrophy > 0:
        level = float(drawn["atrophy"].uniform(0.0, options.atrophy))
        fractions = randomisation.atrophy(fractions, grid.spacing_xyz, level)
    parenchyma = fractions["gm"] + fractions["wm"]
    brain = (parenchyma + fractions["csf"]) >= 0.5
    field_of_view = sum(fractions.values()) >= 0.3
    keep = None
    if imperfect_stripping:
        keep = randomisation.stripped_brain(brain, grid.spacing_xyz, options.skull_strip_error_mm,
                                            drawn["skull_strip_error_mm"]) & field_of_view

    lesions = simulate_lesions(lesion, parenchyma, voxel_to_mni, grid.spacing_xyz, rng_lesion)
    # The T2 rise follows the ADC drop's spatial profile; both sit on the subject's regional variation.
    t2_rise = lesions.adc_reduction * np.float32(lesion.t2_gain / max(lesion.adc_reduction, 1e-6))
    s0_factor = (1.0 + t2_rise) * np.exp(
        np.float32(S0_VARIATION) * anatomy.smooth_texture(grid.shape_xyz, grid.spacing_xyz, rng_anatomy)
    )
    adc_factor = (1.0 - lesions.adc_reduction) * np.exp(
        np.float32(ADC_VARIATION) * anatomy.smooth_texture(grid.shape_xyz, grid.spacing_xyz, rng_anatomy)
    )
    if options.regional_contrast > 0:
        region_s0, region_adc = randomisation.regional_factors(
            anatomy.posterior_fossa_weight(grid.shape_xyz, voxel_to_mni), options.regional_contrast,
            drawn["regional_contrast"])
        s0_factor, adc_factor = s0_factor * region_s0, adc_factor * region_adc
    mimic_kinds: tuple[str, ...] = ()
    if options.mimics > 0:
        found = mimics.simulate_mimics(options.mimics, parenchyma, lesions.mask, voxel_to_mni,
                                       grid.spacing_xyz, drawn["mimics"])
        s0_factor, adc_factor = s0_factor * found.s0_factor, adc_factor * found.adc_factor
        mimic_kinds = found.kinds
    clean = anatomy.diffusion_images(fractions, acquisition.b_value, tissues, adc_factor, s0_factor)
    artefact_fields = {
        "susceptibility": lambda rng: mimics.susceptibility_fields(grid.shape_xyz, voxel_to_mni, rng),
        "phase_encode_pile_up": lambda rng: mimics.phase_encode_pile_up(brain, voxel_to_mni, grid.spacing_xyz, rng),
    }
    for name in randomisation.PROBABILITY_OPTIONS:
        probability = getattr(options, name)
        if probability > 0 and drawn[name].random() < probability:
            s0_field, dwi_field = artefact_fields[name](drawn[name])
            clean = replace(clean, s0=clean.s0 * s0_field, dwi=clean.dwi * dwi_field)
            mimic_kinds += (name,)
    curve = None
    if options.contrast_curve > 0:
        curve = randomisation.contrast_curve(options.contrast_curve, drawn["contrast_curve"])
    dwi, adc = acquire(clean, brain, field_of_view, acquisition, grid.spacing_xyz, rng_noise,
                       keep=keep, dwi_curve=curve)
    truth = lesions.mask if keep is None else lesions.mask & keep
    return SimulatedCase(
        dwi=dwi,
        adc=adc,
        lesion=truth.astype(np.uint8),
        brain_mask=(brain if keep is None else keep).astype(np.uint8),
        affine=affine,
        pose=pose,
        anatomy_scale=scale,
        acquisition=acquisition,
        lesion_spec=lesion,
        seed=int(seed),
        grid=grid,
        mimics=mimic_kinds,
    )
