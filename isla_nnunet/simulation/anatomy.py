"""Anatomy from the MNI152 tissue templates, turned into noise-free diffusion images.

Tissue maps come from the ICBM 2009a symmetric templates that ship inside nilearn
(``nilearn/datasets/data``; read from disk, nothing is downloaded): grey matter (GM) and white
matter (WM) probabilities, and the skull-stripped T1 whose support is the intracranial volume. CSF is
what the intracranial volume holds beyond GM and WM. Skull and scalp, absent from the templates, are
shells at fixed distances outside the intracranial volume.

Images are made from tissue *fractions*: each voxel's signal is the fraction-weighted sum of its
compartments' signals, ``S(b) = sum_t f_t * S0_t * exp(-b * ADC_t)``, which is how partial volume
mixes in a real acquisition; the voxel's ADC is then computed from S(0) and S(b) as a scanner does.

Example:
    >>> from isla_nnunet.simulation import anatomy, geometry
    >>> grid = geometry.get_grid("reference")
    >>> fractions = anatomy.tissue_fractions(grid, grid.affine())
    >>> images = anatomy.diffusion_images(fractions, b_value=1000.0)
    >>> images.dwi.shape == grid.shape_xyz and float(images.adc.max()) < 4e-3
    True
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

from isla_nnunet.errors import ISLAError
from isla_nnunet.simulation.geometry import Grid

_TEMPLATE_FILES = {
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}

BRAIN_TISSUES = ("gm", "wm", "csf")
HEAD_TISSUES = ("skull", "scalp")
PARENCHYMA = ("gm", "wm")

# Shells outside the intracranial volume (mm from its surface): a thin outer CSF layer, the skull,
# then the scalp. Typical adult thicknesses; only their look on DWI/ADC matters here.
# The outer CSF layer is a dilation by round(_OUTER_CSF_MM) voxels of 1 mm.
_OUTER_CSF_MM = 1.5
_SKULL_MM = 6.0
_SCALP_MM = 6.0
# Room around the template for the shells.
_PAD_MM = 16
# Exponent applied to the tissue probabilities and weight of CSF against GM/WM (see _template).
# With these, CSF is ~17% of the intracranial volume (GM ~48%, WM ~34%).
_SHARPENING = 2.0
_CSF_WEIGHT = 3.0


@dataclass(frozen=True)
class Tissue:
    """Diffusion properties of one compartment: ADC in mm^2/s and b=0 signal relative to white matter."""

    adc: float
    s0: float


# ADC: GM ~0.8e-3 and WM ~0.7e-3 mm^2/s in normal adults (Helenius et al., AJNR 2002;23:194-199);
# CSF ~3.0e-3 mm^2/s, free water at body temperature (Mills, J. Phys. Chem. 1973;77:685-688).
# S0 (T2-weighted b=0 signal, relative to WM): calibrated so that b1000 contrast matches the real
# ISLES'22 and SOOP cases (CSF at ~25-50% of parenchyma on DWI, cortex slightly brighter than WM).
# Skull and scalp values are chosen for appearance only (bone has almost no signal).
TISSUES: dict[str, Tissue] = {
    "gm": Tissue(adc=0.80e-3, s0=1.20),
    "wm": Tissue(adc=0.70e-3, s0=1.00),
    "csf": Tissue(adc=3.00e-3, s0=2.60),
    "skull": Tissue(adc=1.00e-3, s0=0.03),
    "scalp": Tissue(adc=1.50e-3, s0=0.80),
}


def jittered_tissues(rng: np.random.Generator, tissues: Mapping[str, Tissue] = TISSUES,
                     factors: Mapping[str, tuple[float, float]] | None = None) -> dict[str, Tissue]:
    """Per-subject tissue values: ADC and S0 each scaled by a factor drawn from N(1, 3%) and N(1, 5%).

    ``factors`` (tissue -> (S0, ADC) multipliers, e.g. from domain randomisation) scale them further.
    """
    out = {
        name: replace(t, adc=t.adc * float(rng.normal(1.0, 0.03)), s0=t.s0 * float(rng.normal(1.0, 0.05)))
        for name, t in tissues.items()
    }
    for name, (s0, adc) in (factors or {}).items():
        out[name] = replace(out[name], s0=out[name].s0 * s0, adc=out[name].adc * adc)
    return out


def _template_path(key: str) -> Path:
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise ISLAError("nilearn is not installed; install it (pip install nilearn) to simulate cases")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / _TEMPLATE_FILES[key]
    if not path.is_file():
        raise ISLAError(
            f"MNI152 template {path.name} missing from nilearn; reinstall nilearn (pip install nilearn)"
        )
    return path


@dataclass(frozen=True)
class _Template:
    affine: np.ndarray  # voxel -> MNI mm, 1 mm voxels
    fractions: dict[str, np.ndarray]  # float32 GM, WM, CSF fractions
    intracranial: np.ndarray  # bool


@functools.lru_cache(maxsize=1)
def _template() -> _Template:
    images = {key: nib.load(_template_path(key)) for key in _TEMPLATE_FILES}
    data = {key: np.asarray(img.dataobj, dtype=np.float32) / 255.0 for key, img in images.items()}
    # Crop to the intracranial box with room for the skull and scalp shells.
    support = np.argwhere(data["t1"] > 0)
    low = support.min(axis=0) - _PAD_MM
    high = support.max(axis=0) + _PAD_MM + 1
    crop = tuple(slice(a + _PAD_MM, b + _PAD_MM) for a, b in zip(low, high, strict=True))
    data = {key: np.pad(values, _PAD_MM)[crop] for key, values in data.items()}
    affine = images["t1"].affine.copy()
    affine[:3, 3] += affine[:3, :3] @ low
    intracranial = ndimage.binary_fill_holes(data["t1"] > 0)
    gm = data["gm"] * intracranial
    wm = data["wm"] * intracranial
    # The probability maps do not always sum to <= 1; renormalise so fractions stay physical.
    excess = np.maximum(gm + wm, 1.0)
    gm, wm = gm / excess, wm / excess
    csf = np.clip(intracranial - gm - wm, 0.0, 1.0)
    # The templates average 152 brains, so tissue borders are wider than in one subject. Raising the
    # fractions to a power and renormalising sharpens the borders back towards a single brain's; the
    # CSF weight opens the sulci that averaging filled with grey matter, as in a stroke-age brain.
    sharpened = [np.power(f, _SHARPENING) for f in (gm, wm, _CSF_WEIGHT * csf)]
    inside = intracranial / np.maximum(sharpened[0] + sharpened[1] + sharpened[2], 1e-6)
    gm, wm, csf = (f * inside for f in sharpened)
    # A thin outer CSF layer: skull-stripped images keep some CSF around the cortex.
    rim = ndimage.binary_dilation(intracranial, iterations=round(_OUTER_CSF_MM)) & ~intracranial
    fractions = {"gm": gm, "wm": wm, "csf": csf + rim}
    return _Template(affine, {k: np.asarray(v, dtype=np.float32) for k, v in fractions.items()}, intracranial)


@functools.lru_cache(maxsize=1)
def _shells() -> dict[str, np.ndarray]:
    outside_mm = ndimage.distance_transform_edt(~_template().intracranial)
    skull_end = _OUTER_CSF_MM + _SKULL_MM
    skull = (outside_mm > _OUTER_CSF_MM) & (outside_mm <= skull_end)
    scalp = (outside_mm > skull_end) & (outside_mm <= skull_end + _SCALP_MM)
    return {"skull": skull.astype(np.float32), "scalp": scalp.astype(np.float32)}


@functools.lru_cache(maxsize=16)
def _prefiltered(spacing_xyz: tuple[float, float, float], name: str) -> np.ndarray:
    # A voxel of the target grid averages the anatomy over its extent (partial volume). A Gaussian of
    # matching width on the 1 mm template, applied once per spacing, gives that at the cost of one
    # sample per voxel. It acts along the template axes, a fair approximation for head rotations of
    # a few degrees. Stored as uint8 to keep the cache small.
    fraction = _shells()[name] if name in HEAD_TISSUES else _template().fractions[name]
    sigma = np.sqrt(np.maximum(np.square(spacing_xyz) - 1.0, 0.0)) / 2.355
    smooth = ndimage.gaussian_filter(fraction, sigma) if np.any(sigma > 0) else fraction
    return np.round(np.clip(smooth, 0.0, 1.0) * 255.0).astype(np.uint8)


def tissue_fractions(grid: Grid, voxel_to_mni: np.ndarray, head: bool = False,
                     displacement_mm: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Tissue fractions sampled on ``grid``.

    Args:
        grid: the output grid (its shape and spacing; spacing sets the partial-volume blur).
        voxel_to_mni: 4x4 map from grid voxel indices to template (MNI) millimetres; for an unposed
            subject on the reference grid it is ``grid.affine()``.
        head: also return ``"skull"`` and ``"scalp"`` (for images that are not skull-stripped).
        displacement_mm: optional ``(3, *grid.shape_xyz)`` field added to each voxel's template
            position (MNI mm): a deformed anatomy.

    Returns:
        ``{"gm", "wm", "csf"[, "skull", "scalp"]}`` -> float32 arrays of ``grid.shape_xyz``, in [0, 1].
    """
    template = _template()
    to_template = np.linalg.inv(template.affine)
    voxel_map = to_template @ np.asarray(voxel_to_mni, dtype=float)
    spacing = tuple(round(float(s), 3) for s in grid.spacing_xyz)
    coordinates = None
    if displacement_mm is not None:
        index = np.indices(grid.shape_xyz, dtype=np.float32)
        coordinates = np.einsum("ij,j...->i...", voxel_map[:3, :3].astype(np.float32), index)
        coordinates += np.einsum("ij,j...->i...", to_template[:3, :3].astype(np.float32), displacement_mm)
        coordinates += voxel_map[:3, 3].astype(np.float32)[:, None, None, None]
    out = {}
    for name in BRAIN_TISSUES + (HEAD_TISSUES if head else ()):
        if coordinates is None:
            sampled = ndimage.affine_transform(
                _prefiltered(spacing, name),
                voxel_map[:3, :3],
                offset=voxel_map[:3, 3],
                output_shape=grid.shape_xyz,
                order=1,
                output=np.float32,
                mode="constant",
                cval=0.0,
            )
        else:
            sampled = ndimage.map_coordinates(_prefiltered(spacing, name), coordinates, order=1,
                                              output=np.float32, mode="constant", cval=0.0)
        out[name] = sampled * np.float32(1.0 / 255.0)
    return out


def template_coordinates(shape, voxel_to_mni: np.ndarray) -> list[np.ndarray]:
    """Template (MNI) x, y, z in mm of every voxel of a grid, as three broadcastable float32 arrays."""
    index = [np.arange(n, dtype=np.float32) for n in shape]
    return [
        np.float32(voxel_to_mni[a, 0]) * index[0][:, None, None]
        + np.float32(voxel_to_mni[a, 1]) * index[1][None, :, None]
        + np.float32(voxel_to_mni[a, 2]) * index[2][None, None, :]
        + np.float32(voxel_to_mni[a, 3])
        for a in range(3)
    ]


# The tentorium in template mm: about z = -18 where the brainstem leaves it (y = -28), rising
# towards the occiput (z ~ -8 at y = -90) and sloping down laterally over the temporal lobes.
# The midbrain and pons in front of y = -28 lie within |x| < 14 mm below z = -10.
_TENTORIUM_Z_MM = -18.0
_TENTORIUM_APEX_Y_MM = -28.0
_TENTORIUM_RISE = 0.16  # mm up per mm back
_TENTORIUM_LATERAL_DROP = 0.2  # mm down per mm beyond |x| = 20
_BRAINSTEM_HALF_WIDTH_MM = 14.0
_BRAINSTEM_TOP_Z_MM = -10.0
_BRAINSTEM_FRONT_Y_MM = -12.0
_REGION_EDGE_MM = 3.0


def posterior_fossa_weight(shape, voxel_to_mni: np.ndarray) -> np.ndarray:
    """Soft map (0..1) of the posterior fossa on a grid: :func:`posterior_fossa_at` of every voxel.

    Example:
        >>> from isla_nnunet.simulation import geometry
        >>> grid = geometry.get_grid("reference")
        >>> weight = posterior_fossa_weight(grid.shape_xyz, grid.affine())
        >>> ijk = np.linalg.inv(grid.affine()) @ np.array([[0, -60, -35, 1], [0, 20, 30, 1]]).T
        >>> [round(float(weight[tuple(np.round(c[:3]).astype(int))]), 2) for c in ijk.T]
        [1.0, 0.0]
    """
    return posterior_fossa_at(*template_coordinates(shape, voxel_to_mni))


def posterior_fossa_at(x, y, z) -> np.ndarray:
    """Soft membership (0..1) of template points (mm) in the posterior fossa: cerebellum and brainstem.

    A geometric approximation below the tentorium with ~3 mm soft edges, for regional contrast (the
    cerebellum and brainstem often look brighter or darker on b1000 than the cerebrum) and for telling
    where a model's errors lie.

    Example:
        >>> [round(float(posterior_fossa_at(0.0, y, z)), 2) for y, z in ((-60.0, -35.0), (20.0, 30.0))]
        [1.0, 0.0]
    """
    x, y, z = (np.asarray(c, dtype=np.float32) for c in (x, y, z))

    def below(value, limit):
        return 1.0 / (1.0 + np.exp((value - limit) / np.float32(_REGION_EDGE_MM)))

    tentorium = (_TENTORIUM_Z_MM + _TENTORIUM_RISE * (_TENTORIUM_APEX_Y_MM - y)
                 - _TENTORIUM_LATERAL_DROP * np.maximum(np.abs(x) - 20.0, 0.0))
    hindbrain = below(y, _TENTORIUM_APEX_Y_MM) * below(z, tentorium)
    brainstem = (below(y, _BRAINSTEM_FRONT_Y_MM) * below(np.abs(x), _BRAINSTEM_HALF_WIDTH_MM)
                 * below(z, _BRAINSTEM_TOP_Z_MM))
    return np.maximum(hindbrain, brainstem).astype(np.float32)


def smooth_texture(shape, spacing_xyz, rng: np.random.Generator, scale_mm: float = 8.0) -> np.ndarray:
    """Smooth random field with zero mean and unit standard deviation, varying over ~``scale_mm``.

    Used for the regional variation of S0 and ADC within a tissue that a single subject shows.
    """
    coarse_shape = tuple(int(np.ceil(n * s / scale_mm)) + 2 for n, s in zip(shape, spacing_xyz, strict=True))
    coarse = ndimage.gaussian_filter(rng.standard_normal(coarse_shape).astype(np.float32), 0.7)
    field = ndimage.zoom(
        coarse,
        [n / c for n, c in zip(shape, coarse_shape, strict=True)],
        order=1,
        grid_mode=True,
        mode="nearest",
    )
    return (field - field.mean()) / np.float32(max(float(field.std()), 1e-6))


@dataclass(frozen=True)
class DiffusionImages:
    """Noise-free signals: ``s0`` (b=0), ``dwi`` (b=b_value), and ``adc`` in mm^2/s (0 where no signal)."""

    s0: np.ndarray
    dwi: np.ndarray
    adc: np.ndarray
    b_value: float


def diffusion_images(
    fractions: Mapping[str, np.ndarray],
    b_value: float,
    tissues: Mapping[str, Tissue] = TISSUES,
    parenchyma_adc_factor: np.ndarray | None = None,
    parenchyma_s0_factor: np.ndarray | None = None,
) -> DiffusionImages:
    """Mix tissue compartments into b=0 and b=``b_value`` signals, then compute the ADC from them.

    Args:
        fractions: tissue name -> fraction map (names from :data:`TISSUES`), all the same shape.
        b_value: diffusion weighting in s/mm^2 (e.g. 1000, or 800 on some scanners).
        tissues: per-tissue ADC and S0.
        parenchyma_adc_factor: optional map multiplying the ADC of the parenchyma (GM, WM)
            compartments, e.g. 0.6 in an acute infarct; CSF keeps its ADC.
        parenchyma_s0_factor: optional map multiplying the parenchyma's b=0 signal (e.g. 1.2 where
            T2 is prolonged).

    Example:
        >>> import numpy as np
        >>> wm = {"wm": np.ones((2, 2, 2), np.float32)}
        >>> images = diffusion_images(wm, b_value=1000.0)
        >>> round(float(images.adc[0, 0, 0]) * 1e3, 3), round(float(images.dwi[0, 0, 0]), 4)
        (0.7, 0.4966)
    """
    if b_value <= 0:
        raise ISLAError(f"b-value must be positive, got {b_value}; use e.g. 1000 s/mm^2")
    unknown = set(fractions) - set(tissues)
    if unknown:
        raise ISLAError(
            f"no diffusion properties for tissue(s) {sorted(unknown)}; add them to the tissues table"
        )
    s0 = dwi = None
    for name, fraction in fractions.items():
        tissue = tissues[name]
        weight = np.float32(tissue.s0) * fraction
        adc = np.float32(tissue.adc)
        if name in PARENCHYMA and parenchyma_adc_factor is not None:
            adc = adc * parenchyma_adc_factor
        if name in PARENCHYMA and parenchyma_s0_factor is not None:
            weight = weight * parenchyma_s0_factor
        attenuated = weight * np.exp(np.float32(-b_value) * adc)
        s0 = weight if s0 is None else s0 + weight
        dwi = attenuated if dwi is None else dwi + attenuated
    s0 = np.asarray(s0, dtype=np.float32)
    dwi = np.asarray(dwi, dtype=np.float32)
    signal = s0 > 1e-3
    adc_map = np.zeros_like(s0)
    adc_map[signal] = np.log(s0[signal] / np.maximum(dwi[signal], 1e-12)) / np.float32(b_value)
    return DiffusionImages(s0=s0, dwi=dwi, adc=adc_map, b_value=float(b_value))
