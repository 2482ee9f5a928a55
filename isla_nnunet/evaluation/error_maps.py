"""Voxel-wise error maps over a test set in a common space (ISLA §3.3.3.3, Figure 5).

For predictions and ground truths that all lie on one grid (ISLA's reference space), four maps:

- ``fp_proportion``: fraction of cases in which the voxel is a false positive (predicted, not GT).
- ``fn_proportion``: fraction of cases in which the voxel is a false negative (GT, not predicted).
- ``fp_mean_distance_mm``: mean over cases of the distance (mm) from the voxel to the nearest GT voxel
  where the voxel is predicted positive, 0 where it is predicted negative (ISLA assigns 0 to voxels
  predicted negative; a true positive is at distance 0 anyway).
- ``fn_mean_distance_mm``: mean over cases of the distance to the nearest predicted voxel where the
  voxel is GT, 0 elsewhere.

These are the distances d(a, G) and d(b, P) of ISLA's HD95, the default of
:func:`~isla_nnunet.evaluation.metrics.hd95`: per case, the 95th percentiles of the two unsmoothed
maps over the predicted and the GT voxels are its two directed terms.

A case with an empty ground truth has no distance to it and is left out of the FP distance mean (and a
case with an empty prediction out of the FN distance mean); ``n_fp_distance_cases`` and
``n_fn_distance_cases`` say how many cases each mean covers, and a mean over no case is 0.
The maps are smoothed with a Gaussian of FWHM 4 mm (sigma = FWHM / (2 sqrt(2 ln 2)) per axis in mm,
zero outside the grid). Files: ``fp_proportion.nii.gz``, ``fn_proportion.nii.gz``,
``fp_mean_distance_mm.nii.gz``, ``fn_mean_distance_mm.nii.gz`` and ``error_maps.png``, a montage of axial
slices with values below 1% (proportions) and 0.2 mm (distances) hidden, as in ISLA's Figure 5.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import ndimage

from isla_nnunet.errors import ISLAError
from isla_nnunet.evaluation.images import Geometry, Image, check_same_grid, read_image, read_mask, write_image
from isla_nnunet.evaluation.matching import pair_inputs
from isla_nnunet.evaluation.parallel import map_cases, resolve_workers
from isla_nnunet.io.atomic import atomic_output

MAP_NAMES: tuple[str, ...] = ("fp_proportion", "fn_proportion", "fp_mean_distance_mm", "fn_mean_distance_mm")
MAP_TITLES = {
    "fp_proportion": "FP proportion",
    "fn_proportion": "FN proportion",
    "fp_mean_distance_mm": "FP mean distance (mm)",
    "fn_mean_distance_mm": "FN mean distance (mm)",
}
# ISLA Figure 5 hides proportions below 1% and distances below 0.2 mm.
DISPLAY_THRESHOLDS = {
    "fp_proportion": 0.01, "fn_proportion": 0.01, "fp_mean_distance_mm": 0.2, "fn_mean_distance_mm": 0.2,
}
FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
_CASES_PER_TASK = 4


@dataclass(frozen=True)
class ErrorMaps:
    """The four maps in (z, y, x) order on ``geometry``, and how many cases each average covers."""

    maps: dict[str, np.ndarray]
    geometry: Geometry
    n_cases: int
    n_fp_distance_cases: int
    n_fn_distance_cases: int
    fwhm_mm: float

    def format(self) -> str:
        lines = [f"error maps over {self.n_cases} cases (Gaussian FWHM {self.fwhm_mm:g} mm); "
                 f"FP distances from {self.n_fp_distance_cases} cases with a lesion, "
                 f"FN distances from {self.n_fn_distance_cases} cases with a prediction"]
        lines += [f"  {name}: max {float(self.maps[name].max()):.3f}" for name in MAP_NAMES]
        return "\n".join(lines)


def smooth(volume: np.ndarray, spacing_zyx: Sequence[float], fwhm_mm: float) -> np.ndarray:
    """Gaussian smoothing with a full width at half maximum in mm (0 leaves the volume unchanged).

    Example:
        >>> v = np.zeros((21, 21, 21)); v[10, 10, 10] = 1.0
        >>> s = smooth(v, (1.0, 1.0, 1.0), 4.0)
        >>> round(float(s.sum()), 4), round(float(s[10, 10, 12] / s[10, 10, 10]), 3)  # 2 mm = half the FWHM
        (1.0, 0.5)
    """
    if fwhm_mm < 0:
        raise ISLAError(f"FWHM must be >= 0 mm, got {fwhm_mm}")
    if fwhm_mm == 0:
        return volume.astype(np.float32)
    sigma = [fwhm_mm * FWHM_TO_SIGMA / s for s in spacing_zyx]
    return ndimage.gaussian_filter(volume.astype(np.float64), sigma, mode="constant").astype(np.float32)


def _accumulate(pairs: Sequence[tuple[str, Path, Path]], reference: Geometry) -> dict[str, np.ndarray | int]:
    """Sums of FP/FN indicators and distances over a few cases (kept small to bound memory)."""
    sums: dict[str, np.ndarray | int] = {name: np.zeros(reference.shape_zyx) for name in MAP_NAMES}
    sums.update(n_fp_distance_cases=0, n_fn_distance_cases=0)
    for _, pred_path, gt_path in pairs:
        pred, gt = read_mask(pred_path), read_mask(gt_path)
        check_same_grid(pred, gt)
        if gt.geometry.differences(reference):
            raise ISLAError(f"{gt_path.name} is not on the grid of the other cases "
                            f"({'; '.join(gt.geometry.differences(reference))}): error maps need every case "
                            "in one common space (register the masks to the reference first)")
        p, g, spacing = pred.array, gt.array, reference.spacing_zyx
        sums["fp_proportion"] += p & ~g
        sums["fn_proportion"] += g & ~p
        if g.any():
            to_gt = ndimage.distance_transform_edt(~g, sampling=spacing)
            sums["fp_mean_distance_mm"] += np.where(p, to_gt, 0.0)
            sums["n_fp_distance_cases"] += 1
        if p.any():
            to_pred = ndimage.distance_transform_edt(~p, sampling=spacing)
            sums["fn_mean_distance_mm"] += np.where(g, to_pred, 0.0)
            sums["n_fn_distance_cases"] += 1
    return sums


def compute_error_maps(
    pred: str | os.PathLike,
    gt: str | os.PathLike,
    fwhm_mm: float = 4.0,
    workers: int | None = None,
    progress: bool = False,
    pred_pattern: str = "*",
    gt_pattern: str = "*",
) -> ErrorMaps:
    """Error maps of prediction masks against ground-truth masks, all on one common grid.

    Args:
        pred, gt: folders (or single files) of binary masks, matched by case id.
        fwhm_mm: Gaussian smoothing FWHM in mm (ISLA: 4; 0 disables smoothing).
        workers, progress: worker processes and progress bar.
        pred_pattern, gt_pattern: file-name globs restricting the folder searches.

    Raises:
        ISLAError: negative FWHM, no common case, unreadable or non-binary masks, cases on different grids.
    """
    if fwhm_mm < 0:
        raise ISLAError(f"FWHM must be >= 0 mm, got {fwhm_mm}")
    workers = resolve_workers(workers)
    pairs = pair_inputs(pred, gt, pred_pattern, gt_pattern).pairs
    reference = read_mask(pairs[0][2]).geometry
    tasks = [(pairs[i:i + _CASES_PER_TASK], reference) for i in range(0, len(pairs), _CASES_PER_TASK)]
    partial = map_cases(_accumulate, tasks, workers=workers, progress=progress, description="error maps",
                        unit=f"x{_CASES_PER_TASK} cases")
    keys = (*MAP_NAMES, "n_fp_distance_cases", "n_fn_distance_cases")
    totals = {key: sum(p[key] for p in partial) for key in keys}
    denominators = {
        "fp_proportion": len(pairs),
        "fn_proportion": len(pairs),
        "fp_mean_distance_mm": totals["n_fp_distance_cases"],
        "fn_mean_distance_mm": totals["n_fn_distance_cases"],
    }
    maps = {
        name: smooth(totals[name] / denominators[name] if denominators[name] else totals[name],
                     reference.spacing_zyx, fwhm_mm)
        for name in MAP_NAMES
    }
    return ErrorMaps(maps, reference, len(pairs), int(totals["n_fp_distance_cases"]),
                     int(totals["n_fn_distance_cases"]), fwhm_mm)


def _montage_slices(maps: ErrorMaps, max_slices: int) -> list[int]:
    shown = np.zeros(maps.geometry.shape_zyx[0], dtype=bool)
    for name in MAP_NAMES:
        shown |= (maps.maps[name] >= DISPLAY_THRESHOLDS[name]).any(axis=(1, 2))
    candidates = np.flatnonzero(shown)
    if candidates.size == 0:
        return [maps.geometry.shape_zyx[0] // 2]
    if candidates.size <= max_slices:
        return candidates.tolist()
    return candidates[np.round(np.linspace(0, candidates.size - 1, max_slices)).astype(int)].tolist()


def render_montage(maps: ErrorMaps, path: str | os.PathLike, background: Image | None = None,
                   max_slices: int = 10) -> Path:
    """PNG with one row per map and one column per axial slice (slices holding visible values).

    Slices are drawn as stored with row 0 at the bottom, which puts anterior up and the patient's left
    on the right (radiological view) for the LAS reference grid.
    """
    slices = _montage_slices(maps, max_slices)
    figure = Figure(figsize=(1.6 * len(slices) + 1.2, 1.9 * len(MAP_NAMES)), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(MAP_NAMES), len(slices), squeeze=False)
    for row, name in enumerate(MAP_NAMES):
        volume = maps.maps[name]
        masked = np.ma.masked_less(volume, DISPLAY_THRESHOLDS[name])
        # A colour range starting at the display threshold; kept non-degenerate when nothing exceeds it.
        vmax = max(float(volume.max()), 2 * DISPLAY_THRESHOLDS[name])
        for column, z in enumerate(slices):
            ax = axes[row, column]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_facecolor("black")
            if background is not None:
                ax.imshow(background.array[z], cmap="gray", origin="lower", interpolation="nearest")
            overlay = ax.imshow(masked[z], cmap="hot", origin="lower", interpolation="nearest",
                                vmin=DISPLAY_THRESHOLDS[name], vmax=vmax)
            if row == 0:
                ax.set_title(f"z={z}", fontsize=8)
        axes[row, 0].set_ylabel(MAP_TITLES[name], fontsize=8)
        figure.colorbar(overlay, ax=list(axes[row]), fraction=0.02, pad=0.01)
    with atomic_output(path) as tmp:
        figure.savefig(tmp, format="png", facecolor="white")
    return Path(path)


def write_error_maps(maps: ErrorMaps, output_dir: str | os.PathLike,
                     background: str | os.PathLike | None = None) -> list[Path]:
    """Write the four NIfTI maps and the PNG montage into ``output_dir``; return the paths.

    Raises:
        ISLAError: the background image is not on the maps' grid.
    """
    output_dir = Path(output_dir)
    backdrop = None
    if background is not None:
        backdrop = read_image(background)
        diffs = backdrop.geometry.differences(maps.geometry)
        if diffs:
            raise ISLAError(f"background {Path(background).name} is not on the grid of the masks "
                            f"({'; '.join(diffs)}): give an image in the same space (e.g. the reference DWI)")
    paths = [write_image(maps.maps[name], maps.geometry, output_dir / f"{name}.nii.gz") for name in MAP_NAMES]
    paths.append(render_montage(maps, output_dir / "error_maps.png", backdrop))
    return paths


def make_error_maps(
    pred: str | os.PathLike,
    gt: str | os.PathLike,
    output_dir: str | os.PathLike,
    fwhm_mm: float = 4.0,
    background: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: bool = False,
    pred_pattern: str = "*",
    gt_pattern: str = "*",
) -> tuple[ErrorMaps, list[Path]]:
    """:func:`compute_error_maps` then :func:`write_error_maps` (the ``isla error-maps`` command)."""
    if background is not None and not Path(background).is_file():
        raise ISLAError(f"background image {background} does not exist: check the path")
    maps = compute_error_maps(pred, gt, fwhm_mm, workers, progress, pred_pattern, gt_pattern)
    return maps, write_error_maps(maps, output_dir, background)
