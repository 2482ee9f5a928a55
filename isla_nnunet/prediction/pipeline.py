"""One case from native DWI/ADC to a native-space lesion mask, volumes, report and picture.

Steps (ISLA §3.2.1; timings of each go into the report):

1. ``read``: :func:`isla_nnunet.io.load_case` (NIfTI, .mha, DICOM; 4-D squeeze; ADC units; ADC from b0);
2. ``brain_extraction``: :func:`isla_nnunet.preprocessing.extract_brain`;
3. ``registration``: rigid, to the reference DWI (:func:`register_to_reference`);
4. ``to_reference``: DWI and ADC on the reference grid exactly as ``isla convert`` writes training
   data (linear, clipped at 0, multiplied by the brain mask), plus the registration QC score, and
   ``symmetric_channels``: their mirror images as ``isla add-symmetric-channels`` writes them, when a
   model reads them (Clèrigues et al.);
5. ``model N``: nnU-Net's predictor, one probability map per model (:mod:`.models`; dense patches
   for a patch model);
6. ``ensemble``: mean probability then > 0.5, or majority vote (:mod:`.ensemble`); a model's own
   post-processing (``postprocessing.json``) makes its mask;
7. ``to_native``: the probability linearly onto the native DWI grid, the mask with the project's
   mask rule (linear, > 0.5, lesions smaller than a reference voxel kept);
   ``adc_check`` (with ``adc_check``): lesions whose median ADC is not below normal parenchyma's are
   removed from the mask (:mod:`.adc_check`; the probability map is left as the models made it);
8. ``outputs``: lesion table, report, QC picture, written to a hidden folder beside ``outdir`` that is
   renamed to ``outdir`` at the end, so a failed case leaves nothing behind.

Files in ``outdir`` (names are stable; see docs/predict.md): ``lesion_mask.nii.gz``,
``lesion_probability.nii.gz``, ``lesions.csv``, ``report.json``, ``qc.png``, ``transform.json`` and,
with ``save_reference``, the reference-grid ``dwi_reference.nii.gz``, ``adc_reference.nii.gz``,
``lesion_probability_reference.nii.gz``, ``lesion_mask_reference.nii.gz``.

Example:
    >>> with ModelSet.load(["Trainer__ISLAPlans__3d_fullres"]) as models:  # doctest: +SKIP
    ...     result = predict_case(CaseSpec("c1", "dwi.nii.gz", adc="adc.nii.gz"), models, "out/c1")
    >>> print(result.summary)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from isla_nnunet import reference
from isla_nnunet.conversion.case_conversion import masked_nonnegative
from isla_nnunet.conversion.cases import CaseSpec
from isla_nnunet.conversion.qc import NCC_THRESHOLD, registration_score
from isla_nnunet.errors import ISLAError
from isla_nnunet.io.atomic import write_text_atomic
from isla_nnunet.io.case import NativeCase, load_case
from isla_nnunet.io.images import write_image
from isla_nnunet.io.leftovers import remove_dead_staging, staging_name
from isla_nnunet.prediction.adc_check import check_restricted_diffusion
from isla_nnunet.prediction.ensemble import combine, describe
from isla_nnunet.prediction.models import ModelSet
from isla_nnunet.prediction.qc import write_qc_png
from isla_nnunet.prediction.report import (
    case_report,
    lesion_labels,
    lesion_summary,
    lesion_table,
    summary_line,
    territory_columns,
    write_lesions_csv,
)
from isla_nnunet.prediction.territories import territory_report
from isla_nnunet.prediction.viewer import write_viewer
from isla_nnunet.preprocessing.brain_extraction import extract_brain, resolve_method
from isla_nnunet.preprocessing.registration import register_to_reference
from isla_nnunet.preprocessing.symmetry import symmetric_versions

MASK = "lesion_mask.nii.gz"
PROBABILITY = "lesion_probability.nii.gz"
LESIONS = "lesions.csv"
REPORT = "report.json"
QC_PNG = "qc.png"
TRANSFORM = "transform.json"
VIEWER = "viewer.html"
REFERENCE_FILES = ("dwi_reference.nii.gz", "adc_reference.nii.gz", "lesion_probability_reference.nii.gz",
                   "lesion_mask_reference.nii.gz")
MNI_FILES = ("lesion_mask_mni.nii.gz", "lesion_probability_mni.nii.gz")
CASE_OUTPUTS = (MASK, PROBABILITY, LESIONS, QC_PNG, TRANSFORM, REPORT)
# Every file a case's output folder can receive; --overwrite replaces these and touches nothing else.
OWN_OUTPUTS = (*CASE_OUTPUTS, VIEWER, *REFERENCE_FILES, *MNI_FILES)


@dataclass(frozen=True)
class PredictionSettings:
    """How cases are predicted and what is written.

    Attributes:
        ensemble: "mean" (ISLA-ENS: mean probability > 0.5) or "vote" (majority of member masks).
        brain_method: brain extraction method or mask file for cases without their own brain mask.
        save_reference: also write the reference-grid images and outputs.
        viewer: also write ``viewer.html``, the case in a self-contained browser page (:mod:`.viewer`).
        save_mni: also write the mask and probability on the MNI152 1 mm template grid (``MNI_FILES``),
            resampled from the native outputs through the case's rigid registration.
        overwrite: write into an existing non-empty output folder, replacing this tool's own files
            there (``OWN_OUTPUTS``) and keeping every other file.
        territory_atlases: loaded :class:`~isla_nnunet.prediction.territories.TerritoryAtlas` objects;
            each adds lesion volume per region to report.json and the dominant region to lesions.csv.
        keep_small_lesions: re-add one native voxel for every predicted lesion that mapping back to the
            native grid loses (off: ISLA's p > 0.5 on the mapped probability, nothing invented).
        adc_check: remove predicted lesions without restricted diffusion (:mod:`.adc_check`; off, as
            in ISLA); what it removed goes into report.json's ``prediction.adc_check``.
    """

    ensemble: str = "mean"
    brain_method: str = "auto"
    save_reference: bool = False
    save_mni: bool = False
    viewer: bool = False
    overwrite: bool = False
    keep_small_lesions: bool = False
    adc_check: bool = False
    territory_atlases: tuple = ()


@dataclass
class CasePrediction:
    """What :func:`predict_case` produced (arrays on the reference grid kept for callers and tests)."""

    case_id: str
    outdir: Path
    report: dict
    summary: str
    reference_probability: np.ndarray
    reference_mask: np.ndarray
    member_probabilities: list[np.ndarray] = field(default_factory=list)


def check_outdir(outdir: str | os.PathLike, overwrite: bool,
                 inputs: Sequence[str | os.PathLike | None] = ()) -> Path:
    """``outdir`` as a Path after checking that it may be written.

    Args:
        outdir: a case's output folder.
        overwrite: whether an existing non-empty folder may receive the outputs.
        inputs: the case's input files (None entries are skipped); none may lie inside ``outdir``.

    Raises:
        ISLAError: it exists as a file, as a non-empty folder without ``overwrite``, or it holds one
            of ``inputs``.
    """
    outdir = Path(outdir)
    inside = [Path(p) for p in inputs if p is not None and _is_within(Path(p), outdir)]
    if inside:
        raise ISLAError(f"output folder {outdir} holds the input {inside[0]}: give an -o outside the input "
                        "folders, so that outputs never mix with or replace the scans")
    if outdir.exists():
        if not outdir.is_dir():
            raise ISLAError(f"output {outdir} exists and is not a folder: give another -o")
        if not overwrite and any(outdir.iterdir()):
            raise ISLAError(f"output folder {outdir} already exists: give another -o, "
                            "or --overwrite to replace it")
    return outdir


class _Timer:
    """Seconds per step; ``done`` holds steps timed before the timer existed (a case read earlier)."""

    def __init__(self, done: dict[str, float] | None = None) -> None:
        self.seconds: dict[str, float] = {k: round(v, 3) for k, v in (done or {}).items()}
        self._before = sum((done or {}).values())
        self.start = time.perf_counter()

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 3)

    def total(self) -> float:
        return self._before + time.perf_counter() - self.start


def _image(array: np.ndarray, grid: sitk.Image, dtype) -> sitk.Image:
    image = sitk.GetImageFromArray(np.ascontiguousarray(array, dtype=dtype))
    image.CopyInformation(grid)
    return image


def case_inputs(spec: CaseSpec, settings: PredictionSettings) -> list[str]:
    """The files a case reads: its images and a brain mask given as a file."""
    brain = [b for b in (spec.brain, settings.brain_method) if b and os.path.isfile(b)]
    return [p for p in (spec.dwi, spec.adc, spec.b0, *brain) if p is not None]


def _is_within(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _publish(staging: Path, outdir: Path, overwrite: bool) -> None:
    # Checked again here: another process may have created the folder while this case was running.
    check_outdir(outdir, overwrite)
    if not outdir.exists():
        os.replace(staging, outdir)
        return
    # Only this tool's files are replaced. report.json leaves first and arrives last, so a run stopped
    # in between leaves a folder without a report, which a batch rerun redoes.
    (outdir / REPORT).unlink(missing_ok=True)
    written = {p.name for p in staging.iterdir()}
    for name in OWN_OUTPUTS:
        if name == REPORT:
            continue
        if name in written:
            os.replace(staging / name, outdir / name)
        else:  # e.g. reference images of an earlier --save-reference run, which would not match
            (outdir / name).unlink(missing_ok=True)
    os.replace(staging / REPORT, outdir / REPORT)


@dataclass
class ReadCase:
    """A case's images as read (step 1) and how long reading took, for the report's timings."""

    case: NativeCase
    seconds: float


def read_case(spec: CaseSpec, bvalues: Sequence[float] | None = None) -> ReadCase:
    """Read a case's images (step 1) with :func:`isla_nnunet.io.load_case`, timed.

    Raises:
        ISLAError: missing or unreadable files, no ADC and no b0, a multi-volume DWI without b-values,
            an ADC in no known unit or from another scan.
    """
    start = time.perf_counter()
    case = load_case(spec.dwi, adc=spec.adc, b0=spec.b0, bvalues=list(bvalues) if bvalues else None,
                     case_id=spec.case_id)
    return ReadCase(case, time.perf_counter() - start)


def predict_case(spec: CaseSpec, models: ModelSet, outdir: str | os.PathLike,
                 settings: PredictionSettings = PredictionSettings(),
                 bvalues: Sequence[float] | None = None, read: ReadCase | None = None) -> CasePrediction:
    """Predict one case and write its outputs to ``outdir`` (steps in the module docstring).

    Args:
        spec: the case's files (``dwi``, ``adc`` or ``b0``, optional ``brain`` mask); its lesion mask,
            if any, is ignored.
        models: loaded models; several are combined by ``settings.ensemble``.
        outdir: output folder for this case.
        settings: see :class:`PredictionSettings`.
        bvalues: b-values of a multi-volume DWI without sidecar.
        read: the case already read by :func:`read_case` (so that bad inputs fail before models load).

    Raises:
        ISLAError: a bad input (missing ADC, 4-D without b-values, ADC of another scan, ...) or an
            existing ``outdir``; nothing is written then.
    """
    outdir = check_outdir(outdir, settings.overwrite, case_inputs(spec, settings))
    read = read or read_case(spec, bvalues)
    case = read.case
    timer = _Timer({"read": read.seconds})
    with timer.step("brain_extraction"):
        method = resolve_method(case, spec.brain or settings.brain_method)
        brain = extract_brain(case, method)
    with timer.step("registration"):
        registration = register_to_reference(case, brain)
    with timer.step("to_reference"):
        brain_ref = registration.to_reference(brain, kind="mask")
        dwi_ref = masked_nonnegative(registration.to_reference(case.dwi), brain_ref)
        adc_ref = masked_nonnegative(registration.to_reference(case.adc), brain_ref)
        ones = sitk.Image(case.dwi.GetSize(), sitk.sitkFloat32) + 1.0
        ones.CopyInformation(case.dwi)
        ncc = registration_score(dwi_ref, registration.to_reference(ones) > 0.5)
        images = [dwi_ref, adc_ref]
    if any(model.input_channels > len(images) for model in models):
        with timer.step("symmetric_channels"):
            images += symmetric_versions(images)[0]
    channels = np.stack([sitk.GetArrayFromImage(image) for image in images])
    members = []
    for number, model in enumerate(models, start=1):
        with timer.step(f"model_{number}"):
            members.append(model.lesion_probability(channels))
    with timer.step("ensemble"):
        own_masks = [m.postprocessing.apply(p) if m.postprocessing else None for m, p in zip(models, members,
                                                                                            strict=True)]
        combined = combine(members, settings.ensemble, own_masks)
    with timer.step("to_native"):
        probability = registration.to_native(combined.probability, kind="probability")
        # The mean rule thresholds the interpolated mean probability; a vote (or a model's own
        # post-processing) maps its binary mask.
        decided = combined.mask.astype(np.float32)
        mask_source = combined.probability if combined.mask_from_probability else decided
        mask = sitk.Cast(registration.to_native(mask_source, kind="mask",
                                                keep_small_lesions=settings.keep_small_lesions), sitk.sitkUInt8)
    checked = None
    if settings.adc_check:
        with timer.step("adc_check"):
            checked = check_restricted_diffusion(sitk.GetArrayViewFromImage(mask), sitk.GetArrayViewFromImage(case.adc),
                                                 sitk.GetArrayViewFromImage(brain))
            mask = _image(checked.mask, mask, np.uint8)
    with timer.step("lesions"):
        lesions = lesion_table(mask, probability)
        totals = lesion_summary(lesions)
        voxel_ml = float(np.prod(case.dwi.GetSpacing())) / 1000.0
        brain_ml = int(np.count_nonzero(sitk.GetArrayViewFromImage(brain))) * voxel_ml
    if settings.territory_atlases:
        with timer.step("territories"):
            numbered = lesion_labels(mask)
            territories = [territory_report(numbered, mask, registration, atlas)
                           for atlas in settings.territory_atlases]
    else:
        territories = []

    reference_voxel_ml = float(np.prod(reference.SPACING_XYZ)) / 1000.0
    title = (f"{case.case_id}   lesion {totals['total_volume_ml']:.2f} ml, {totals['count']} lesion(s), "
             f"{totals['stroke_pattern']}   ({len(models)} model{'s' if len(models) > 1 else ''})")
    outputs = [*CASE_OUTPUTS, *(REFERENCE_FILES if settings.save_reference else ()),
               *(MNI_FILES if settings.save_mni else ()), *((VIEWER,) if settings.viewer else ())]
    outdir.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_staging(outdir.parent, outdir.name)  # what a killed run on this case left behind
    staging = outdir.parent / staging_name(outdir.name)
    staging.mkdir()
    try:
        with timer.step("write"):
            write_image(mask, staging / MASK)
            write_image(probability, staging / PROBABILITY)
            write_lesions_csv(lesions, staging / LESIONS, territory_columns(territories))
            if settings.save_reference:
                grid = dwi_ref
                for name, image in zip(REFERENCE_FILES, (
                        dwi_ref, adc_ref, _image(combined.probability, grid, np.float32),
                        _image(combined.mask, grid, np.uint8)), strict=True):
                    write_image(image, staging / name)
            if settings.save_mni:
                write_image(registration.to_mni(mask, kind="mask"), staging / MNI_FILES[0])
                write_image(registration.to_mni(probability, kind="probability"), staging / MNI_FILES[1])
            qc = {"ncc": ncc, "threshold": NCC_THRESHOLD, "flagged": ncc < NCC_THRESHOLD}
            registration.info = {"case": case.metadata(), "brain_method": os.fspath(method), "qc": qc}
            registration.save(staging / TRANSFORM)
        with timer.step("qc_png"):
            write_qc_png(case.dwi, case.adc, mask, probability, staging / QC_PNG, title=title, brain=brain)
        if settings.viewer:
            with timer.step("viewer"):
                write_viewer(case.dwi, case.adc, mask, probability, lesions, staging / VIEWER, title=title,
                             territories=territories, brain=brain)
        seconds = timer.total()
        report = case_report(
            case_metadata=case.metadata(), lesions=lesions,
            brain={"volume_ml": brain_ml, "method": os.fspath(method)},
            registration={"qc_ncc": ncc, "qc_threshold": NCC_THRESHOLD, "qc_flagged": ncc < NCC_THRESHOLD,
                          "metric": registration.metric},
            reference_lesion_ml=float(combined.mask.sum()) * reference_voxel_ml,
            ensemble=describe(settings.ensemble, len(models),
                              [m.postprocessing.describe() if m.postprocessing else None for m in models]),
            models=[model.to_dict() for model in models],
            prediction={"device": models.device, "test_time_mirroring": models.tta,
                        **({"adc_check": checked.to_dict(voxel_ml)} if checked else {})}, outputs=outputs,
            timings={**timer.seconds, "total": round(seconds, 3)}, territories=territories)
        write_text_atomic(staging / REPORT, json.dumps(report, indent=1) + "\n")
        _publish(staging, outdir, settings.overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    shipped = len(report["models"]) == 1 and report["models"][0].get("shipped", False)
    summary = summary_line(case.case_id, totals, brain_ml, len(models), settings.ensemble, seconds, outdir,
                           shipped=shipped, registration=report["registration"])
    return CasePrediction(case.case_id, outdir, report, summary, combined.probability, combined.mask, members)
