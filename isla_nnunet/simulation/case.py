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

from dataclasses import dataclass

import numpy as np

from isla_nnunet import reference
from isla_nnunet.errors import ISLAError
from isla_nnunet.simulation import anatomy
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
        lesion: uint8 {0, 1} ground truth. brain_mask: uint8 {0, 1} intracranial mask.
        affine: 4x4 voxel -> scanner world (RAS+ mm) of all arrays.
        pose: head pose; ``pose.inverse_matrix()`` maps scanner world to the reference world.
        anatomy_scale: per-axis scale of the subject's brain about the reference centre (x, y, z).
        acquisition, lesion_spec, seed, grid: the settings used.
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
    grid = get_grid(grid if grid is not None else settings.grid)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(5)]
    rng_acquisition, rng_pose, rng_anatomy, rng_lesion, rng_noise = streams

    acquisition = settings.sample(rng_acquisition)
    if pose is None:
        pose = RigidPose.random(rng_pose, settings.max_rotation_deg, settings.max_translation_mm)
    scale = tuple(float(v) for v in rng_anatomy.uniform(*ANATOMY_SCALE_RANGE, 3))
    tissues = anatomy.jittered_tissues(rng_anatomy)
    if lesion is None:
        lesion = sample_lesion_spec(rng_lesion, pattern, volume_ml, pattern_weights)

    affine = grid.affine()
    voxel_to_mni = _anatomy_to_template(scale) @ pose.inverse_matrix() @ affine
    fractions = anatomy.tissue_fractions(grid, voxel_to_mni, head=not acquisition.skull_stripped)
    parenchyma = fractions["gm"] + fractions["wm"]
    brain = (parenchyma + fractions["csf"]) >= 0.5
    field_of_view = sum(fractions.values()) >= 0.3

    lesions = simulate_lesions(lesion, parenchyma, voxel_to_mni, grid.spacing_xyz, rng_lesion)
    # The T2 rise follows the ADC drop's spatial profile; both sit on the subject's regional variation.
    t2_rise = lesions.adc_reduction * np.float32(lesion.t2_gain / max(lesion.adc_reduction, 1e-6))
    s0_factor = (1.0 + t2_rise) * np.exp(
        np.float32(S0_VARIATION) * anatomy.smooth_texture(grid.shape_xyz, grid.spacing_xyz, rng_anatomy)
    )
    adc_factor = (1.0 - lesions.adc_reduction) * np.exp(
        np.float32(ADC_VARIATION) * anatomy.smooth_texture(grid.shape_xyz, grid.spacing_xyz, rng_anatomy)
    )
    clean = anatomy.diffusion_images(fractions, acquisition.b_value, tissues, adc_factor, s0_factor)
    dwi, adc = acquire(clean, brain, field_of_view, acquisition, grid.spacing_xyz, rng_noise)
    return SimulatedCase(
        dwi=dwi,
        adc=adc,
        lesion=lesions.mask.astype(np.uint8),
        brain_mask=brain.astype(np.uint8),
        affine=affine,
        pose=pose,
        anatomy_scale=scale,
        acquisition=acquisition,
        lesion_spec=lesion,
        seed=int(seed),
        grid=grid,
    )
