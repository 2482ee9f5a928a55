"""What ``isla predict`` says about a case: lesions, volumes, stroke pattern, and how it was computed.

Lesions are the 26-connected components of the native-space mask (as ISLES'22 counts them, see
:mod:`isla_nnunet.evaluation.metrics`), numbered from the largest. For each: volume (ml, from the
native voxel spacing), voxel count, centroid (voxel index x, y, z and scanner world position in mm,
RAS+ as NIfTI viewers show it) and the maximum of the native-space probability inside it.

Stroke pattern by the DeepISLES rules (de la Rosa et al., Methods, "Stroke pattern"), applied in this
order to the lesion volumes:

1. no lesion: ``no ischemia``;
2. the largest lesion is > 95 % of the total volume: ``single vessel infarct``;
3. >= 3 lesions and (the largest < 60 % of the total, or the total < 5 ml): ``scattered infarcts``;
4. otherwise: ``single vessel infarct with scattered infarcts``.

Example:
    >>> stroke_pattern([10.0]), stroke_pattern([3.0, 2.0, 1.0]), stroke_pattern([40.0, 4.0])
    ('single vessel infarct', 'scattered infarcts', 'single vessel infarct with scattered infarcts')
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cc3d
import numpy as np
import SimpleITK as sitk

from isla_nnunet import reference
from isla_nnunet.evaluation.metrics import CONNECTIVITY
from isla_nnunet.io.atomic import write_text_atomic
from isla_nnunet.io.geometry import ras_affine

REPORT_FORMAT = "isla-nnunet-prediction"
REPORT_VERSION = 1

NO_ISCHEMIA = "no ischemia"
SINGLE_VESSEL = "single vessel infarct"
SCATTERED = "scattered infarcts"
MIXED = "single vessel infarct with scattered infarcts"
STROKE_PATTERNS = (NO_ISCHEMIA, SINGLE_VESSEL, SCATTERED, MIXED)

SINGLE_VESSEL_SHARE = 0.95
SCATTERED_MIN_LESIONS = 3
SCATTERED_MAX_SHARE = 0.60
SCATTERED_SMALL_TOTAL_ML = 5.0

LESION_COLUMNS = ("lesion", "volume_ml", "voxels", "centroid_x", "centroid_y", "centroid_z",
                  "centroid_ras_mm_x", "centroid_ras_mm_y", "centroid_ras_mm_z", "max_probability")


def stroke_pattern(lesion_volumes_ml: Sequence[float]) -> str:
    """DeepISLES stroke-pattern class of a mask from its lesion volumes (rules in the module docstring)."""
    volumes = [float(v) for v in lesion_volumes_ml if v > 0]
    total = sum(volumes)
    if not volumes:
        return NO_ISCHEMIA
    largest_share = max(volumes) / total
    if largest_share > SINGLE_VESSEL_SHARE:
        return SINGLE_VESSEL
    if len(volumes) >= SCATTERED_MIN_LESIONS and (largest_share < SCATTERED_MAX_SHARE
                                                  or total < SCATTERED_SMALL_TOTAL_ML):
        return SCATTERED
    return MIXED


@dataclass(frozen=True)
class Lesion:
    """One 26-connected lesion; centroid index in (x, y, z) voxel order, world position RAS+ mm."""

    lesion: int
    volume_ml: float
    voxels: int
    centroid_xyz: tuple[float, float, float]
    centroid_ras_mm: tuple[float, float, float]
    max_probability: float

    def row(self) -> list:
        return [self.lesion, self.volume_ml, self.voxels, *self.centroid_xyz, *self.centroid_ras_mm,
                self.max_probability]


def lesion_labels(mask: sitk.Image) -> np.ndarray:
    """(z, y, x) int array: 0 background, ``n`` the voxels of lesion ``n`` of :func:`lesion_table`.

    Lesions are 26-connected components numbered largest first; equal sizes in a fixed order (by
    position), so the numbering is reproducible.
    """
    array = sitk.GetArrayViewFromImage(mask) > 0
    labels, count = cc3d.connected_components(array, connectivity=CONNECTIVITY, return_N=True)
    if count == 0:
        return labels
    flat = labels.ravel()
    sizes = np.bincount(flat, minlength=count + 1)
    coordinates = np.indices(array.shape, dtype=np.float64).reshape(3, -1)
    sums = np.stack([np.bincount(flat, weights=c, minlength=count + 1) for c in coordinates])
    order = sorted(range(1, count + 1), key=lambda k: (-sizes[k], *(sums[:, k] / sizes[k])))
    renumber = np.zeros(count + 1, dtype=labels.dtype)
    renumber[order] = np.arange(1, count + 1)
    return renumber[labels]


def lesion_table(mask: sitk.Image, probability: sitk.Image | None = None) -> list[Lesion]:
    """The lesions of a native-space mask, largest first (numbered as :func:`lesion_labels`).

    Args:
        mask: uint8 (0/1) mask; its spacing gives the volumes and its header the world positions.
        probability: probability on the same grid (None: max_probability is NaN).
    """
    labels = lesion_labels(mask)
    count = int(labels.max())
    if count == 0:
        return []
    voxel_ml = float(np.prod(mask.GetSpacing())) / 1000.0
    flat = labels.ravel()
    sizes = np.bincount(flat, minlength=count + 1)
    coordinates = np.indices(labels.shape, dtype=np.float64).reshape(3, -1)
    sums = np.stack([np.bincount(flat, weights=c, minlength=count + 1) for c in coordinates])
    if probability is not None:
        values = sitk.GetArrayViewFromImage(probability).ravel()
        maxima = np.full(count + 1, -np.inf)
        np.maximum.at(maxima, flat, values)
    affine = ras_affine(mask)
    lesions = []
    for label in range(1, count + 1):
        centroid_xyz = (sums[:, label] / sizes[label])[::-1]
        world = affine[:3, :3] @ centroid_xyz + affine[:3, 3]
        lesions.append(Lesion(label, float(sizes[label] * voxel_ml), int(sizes[label]),
                              tuple(round(float(c), 3) for c in centroid_xyz),
                              tuple(round(float(c), 3) for c in world),
                              float(maxima[label]) if probability is not None else float("nan")))
    return lesions


def territory_columns(territories: Sequence[dict]) -> dict[str, list]:
    """Per-lesion columns from territory reports: ``<atlas>_region`` and ``<atlas>_share`` for each atlas."""
    columns: dict[str, list] = {}
    for report in territories:
        columns[f"{report['atlas']}_region"] = [les["region"] for les in report["lesions"]]
        columns[f"{report['atlas']}_share"] = [les["share"] for les in report["lesions"]]
    return columns


def lesions_csv(lesions: Sequence[Lesion], extra: dict[str, list] | None = None) -> str:
    """The per-lesion table as CSV text (columns :data:`LESION_COLUMNS`, then ``extra``), floats exact."""
    extra = extra or {}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*LESION_COLUMNS, *extra])
    for index, lesion in enumerate(lesions):
        row = [*lesion.row(), *(values[index] for values in extra.values())]
        writer.writerow([repr(v) if isinstance(v, float) else v for v in row])
    return out.getvalue()


def write_lesions_csv(lesions: Sequence[Lesion], path: str | os.PathLike,
                      extra: dict[str, list] | None = None) -> Path:
    return write_text_atomic(path, lesions_csv(lesions, extra))


def lesion_summary(lesions: Sequence[Lesion]) -> dict:
    """Totals of a lesion table: volume, count, largest share, stroke pattern."""
    volumes = [les.volume_ml for les in lesions]
    total = float(sum(volumes))
    return {
        "total_volume_ml": total,
        "count": len(lesions),
        "largest_volume_ml": max(volumes) if volumes else 0.0,
        "largest_share": max(volumes) / total if total > 0 else 0.0,
        "stroke_pattern": stroke_pattern(volumes),
    }


def case_report(*, case_metadata: dict, lesions: Sequence[Lesion], brain: dict, registration: dict,
                reference_lesion_ml: float, ensemble: dict, models: list[dict], prediction: dict,
                outputs: Sequence[str], timings: dict, territories: Sequence[dict] = ()) -> dict:
    """The content of ``report.json`` (keys documented in docs/predict.md).

    Args:
        case_metadata: :meth:`NativeCase.metadata` (what was read and detected).
        lesions: the native mask's lesion table.
        brain: ``volume_ml`` and ``method`` of the brain mask.
        registration: QC score, threshold, flag and final metric.
        reference_lesion_ml: lesion volume of the mask on the reference grid.
        ensemble: :func:`isla_nnunet.prediction.ensemble.describe`.
        models: one dict per model (name, source, folds, trainer, ...).
        prediction: device and test-time mirroring.
        outputs: file names written.
        timings: seconds per step and ``total``.
        territories: :func:`isla_nnunet.prediction.territories.territory_report` per atlas (the
            ``territories`` key, present only when atlases were given).
    """
    report = {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "case_id": case_metadata["case_id"],
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "input": case_metadata,
        "outputs": list(outputs),
        "lesion": {**lesion_summary(lesions), "connectivity": CONNECTIVITY, "lesions": [
            {"lesion": les.lesion, "volume_ml": les.volume_ml, "voxels": les.voxels,
             "centroid_voxel_xyz": list(les.centroid_xyz), "centroid_ras_mm": list(les.centroid_ras_mm),
             "max_probability": les.max_probability} for les in lesions]},
        "brain": brain,
        "registration": registration,
        "reference_grid": {"shape_xyz": list(reference.SHAPE_XYZ), "spacing_xyz": list(reference.SPACING_XYZ),
                           "lesion_volume_ml": reference_lesion_ml},
        "ensemble": ensemble,
        "models": models,
        "prediction": prediction,
        "versions": versions(),
        "timings_s": timings,
    }
    if territories:
        report["territories"] = list(territories)
    return report


def versions() -> dict:
    """Versions of the software that made a prediction."""
    from importlib import metadata

    found = {"python": platform.python_version()}
    for package in ("isla-nnunet", "nnunetv2", "torch", "SimpleITK", "numpy"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def summary_line(case_id: str, lesion_totals: dict, brain_volume_ml: float, n_models: int, method: str,
                 seconds: float, outdir: str | os.PathLike, shipped: bool = False,
                 registration: dict | None = None) -> str:
    """The one line ``isla predict`` prints per case; ``shipped``: the one model is the package's own;
    ``registration``: the report's registration entry, whose failed QC the line ends with.

    Example:
        >>> totals = {"total_volume_ml": 12.345, "count": 3, "stroke_pattern": "scattered infarcts"}
        >>> summary_line("c1", totals, 1234.5, 2, "mean", 14.2, "o")
        'c1: lesion 12.35 ml in 3 lesions (scattered infarcts), brain 1234 ml, 2 models (mean) in 14.2 s -> o'
        >>> summary_line("c1", totals, 1234.5, 1, "mean", 4.0, "o", shipped=True)[-31:]
        'the shipped model in 4.0 s -> o'
        >>> qc = {"qc_ncc": 0.12, "qc_threshold": 0.3, "qc_flagged": True}
        >>> summary_line("c1", totals, 1234.5, 1, "mean", 4.0, "o", registration=qc).split(" -> o")[1]
        '; REGISTRATION QC FAILED (NCC 0.12 < 0.30): check qc.png before using this mask'
    """
    count = lesion_totals["count"]
    models = f"{n_models} model{'s' if n_models > 1 else ''}" + (f" ({method})" if n_models > 1 else "")
    if shipped and n_models == 1:
        models = "the shipped model"
    line = (f"{case_id}: lesion {lesion_totals['total_volume_ml']:.2f} ml in {count} "
            f"lesion{'' if count == 1 else 's'} ({lesion_totals['stroke_pattern']}), "
            f"brain {brain_volume_ml:.0f} ml, {models} in {seconds:.1f} s -> {os.fspath(outdir)}")
    if registration_failed(registration):
        line += (f"; REGISTRATION QC FAILED (NCC {registration['qc_ncc']:.2f} < {registration['qc_threshold']:.2f}): "
                 "check qc.png before using this mask")
    return line


def registration_failed(registration: dict | None) -> bool:
    """Whether a report's registration entry says the QC failed."""
    return bool((registration or {}).get("qc_flagged", False))


def predicted_by(report: str | os.PathLike, models: Sequence, tta: bool = False, adc_check: bool = False) -> bool:
    """Whether ``report`` (a report.json) exists and records the weights of ``models`` (loaded models with
    ``weights_sha256``), member by member, predicted with test-time mirroring ``tta`` and the ADC check
    ``adc_check``: a finished case can be reused only then, since a model folder keeps its name when its
    weights are retrained or replaced. An unreadable report counts as not made by them."""
    try:
        content = json.loads(Path(report).read_text(encoding="utf-8"))
        recorded = content.get("models", [])
        prediction = content.get("prediction", {})
    except (OSError, ValueError, AttributeError):
        return False
    return ([m.get("weights_sha256") for m in recorded] == [list(m.weights_sha256) for m in models]
            and bool(prediction.get("test_time_mirroring", False)) == tta
            and ("adc_check" in prediction) == adc_check)
