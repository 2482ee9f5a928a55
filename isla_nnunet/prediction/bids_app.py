"""``isla bids``: the prediction pipeline as a BIDS App writing BIDS derivatives.

Participant level: every DWI acquisition of the chosen participants
(:func:`~isla_nnunet.conversion.layouts.bids_entities.find_acquisitions`) goes through
:func:`~isla_nnunet.prediction.pipeline.predict_case` into a hidden work folder, and its files are
then moved to their derivative names (``PREFIX`` = ``sub-X[_ses-Y][_acq-..][_run-..]``)::

    OUTPUT/dataset_description.json
    OUTPUT/sub-X/ses-Y/dwi/PREFIX_space-dwi_desc-lesion_mask.nii.gz     (+ .json with its Sources)
    OUTPUT/sub-X/ses-Y/dwi/PREFIX_space-dwi_desc-lesion_probseg.nii.gz  (+ .json)
    OUTPUT/sub-X/ses-Y/dwi/PREFIX_desc-lesion_table.tsv                 (lesions.csv as TSV)
    OUTPUT/sub-X/ses-Y/dwi/PREFIX_from-MNI152NLin2009aSym_to-dwi_xfm.json
    OUTPUT/sub-X/ses-Y/dwi/PREFIX_desc-qc_dwi.png
    OUTPUT/sub-X/ses-Y/dwi/PREFIX_desc-viewer_dwi.html                  (--viewer)
    OUTPUT/sub-X/ses-Y/dwi/PREFIX_space-MNI152NLin2009aSym_desc-lesion_{mask,probseg}.nii.gz  (--save-mni)
    OUTPUT/sub-X/ses-Y/dwi/PREFIX_desc-lesion_report.json               (written last)

The report is moved last, so its presence marks an acquisition as done: a rerun skips it (unless
``overwrite``), which makes an interrupted job, or a SLURM array task started twice, safe to repeat.
Acquisitions are independent, so array tasks (one participant each) write side by side; only
``dataset_description.json`` is shared, written atomically with the same content by every task.

Group level: one row per finished acquisition in ``OUTPUT/group_lesions.tsv``.

Example:
    >>> with ModelSet.load(["Trainer__ISLAPlans__3d_fullres"]) as models:  # doctest: +SKIP
    ...     summary = run_participants("bids", "derivatives/isla", find_acquisitions("bids"), models)
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from isla_nnunet.conversion.cases import CaseSpec
from isla_nnunet.conversion.layouts.bids_entities import BidsAcquisition
from isla_nnunet.errors import ISLAError
from isla_nnunet.io.atomic import write_text_atomic
from isla_nnunet.prediction.batch import BatchSummary, CaseOutcome, error_line
from isla_nnunet.prediction.models import ModelSet
from isla_nnunet.prediction.pipeline import (
    LESIONS,
    MASK,
    MNI_FILES,
    PROBABILITY,
    QC_PNG,
    REPORT,
    TRANSFORM,
    VIEWER,
    PredictionSettings,
    predict_case,
)
from isla_nnunet.prediction.report import registration_failed

TEMPLATE_SPACE = "MNI152NLin2009aSym"
DERIVATIVE_NAMES = {  # pipeline file -> derivative name after the acquisition's prefix
    MASK: "_space-dwi_desc-lesion_mask.nii.gz",
    PROBABILITY: "_space-dwi_desc-lesion_probseg.nii.gz",
    LESIONS: "_desc-lesion_table.tsv",
    TRANSFORM: f"_from-{TEMPLATE_SPACE}_to-dwi_xfm.json",
    QC_PNG: "_desc-qc_dwi.png",
    VIEWER: "_desc-viewer_dwi.html",
    MNI_FILES[0]: f"_space-{TEMPLATE_SPACE}_desc-lesion_mask.nii.gz",
    MNI_FILES[1]: f"_space-{TEMPLATE_SPACE}_desc-lesion_probseg.nii.gz",
    REPORT: "_desc-lesion_report.json",
}
SIDECARS = {MASK: "lesion mask (probability > 0.5) on the DWI grid",
            PROBABILITY: "lesion probability on the DWI grid",
            MNI_FILES[0]: f"lesion mask on the {TEMPLATE_SPACE} 1 mm grid (rigid alignment)",
            MNI_FILES[1]: f"lesion probability on the {TEMPLATE_SPACE} 1 mm grid (rigid alignment)"}
GROUP_FILE = "group_lesions.tsv"
GROUP_COLUMNS = ("participant_id", "session_id", "acquisition", "total_volume_ml", "lesion_count",
                 "stroke_pattern", "largest_volume_ml", "brain_volume_ml", "registration_qc", "models")
WORK_FOLDER = ".isla_work"


def derivative_path(output: Path, acquisition: BidsAcquisition, file: str) -> Path:
    """Where ``file`` (a pipeline output name) of ``acquisition`` goes under ``output``."""
    return output / acquisition.folder / f"{acquisition.prefix}{DERIVATIVE_NAMES[file]}"


def write_dataset_description(output: Path, bids_dir: Path) -> Path:
    """``dataset_description.json`` of the derivatives (BIDS 1.9: DatasetType, GeneratedBy, SourceDatasets)."""
    from isla_nnunet.prediction.report import versions

    description = {
        "Name": "isla-nnunet ischemic stroke lesion segmentation",
        "BIDSVersion": "1.9.0",
        "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "isla-nnunet", "Version": versions().get("isla-nnunet", "unknown"),
                         "Description": "ISLA (Roca et al.) on nnU-Net v2: DWI/ADC lesion masks in native space"}],
        "SourceDatasets": [{"URL": bids_dir.resolve().as_uri()}],
    }
    return write_text_atomic(output / "dataset_description.json", json.dumps(description, indent=2) + "\n")


def _csv_to_tsv(text: str) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter="\t", lineterminator="\n").writerows(csv.reader(io.StringIO(text)))
    return out.getvalue()


def _sources(bids_dir: Path, acquisition: BidsAcquisition) -> list[str]:
    files = [p for p in (acquisition.dwi, acquisition.adc, acquisition.b0) if p is not None]
    return [f"bids:raw:{p.relative_to(bids_dir).as_posix()}" if p.is_relative_to(bids_dir) else str(p)
            for p in files]


def _publish(work: Path, output: Path, bids_dir: Path, acquisition: BidsAcquisition) -> None:
    """Move the pipeline's files to their derivative names, the report last."""
    names = [n for n in DERIVATIVE_NAMES if n != REPORT and (work / n).exists()] + [REPORT]
    derivative_path(output, acquisition, REPORT).parent.mkdir(parents=True, exist_ok=True)
    sources = _sources(bids_dir, acquisition)
    for name in names:
        target = derivative_path(output, acquisition, name)
        if name == LESIONS:
            write_text_atomic(target, _csv_to_tsv((work / name).read_text(encoding="utf-8")))
            continue
        if name in SIDECARS:
            sidecar = target.with_name(target.name.removesuffix(".nii.gz") + ".json")
            write_text_atomic(sidecar, json.dumps({"Description": SIDECARS[name], "Sources": sources}, indent=2)
                              + "\n")
        os.replace(work / name, target)


def run_participants(bids_dir: str | os.PathLike, output: str | os.PathLike,
                     acquisitions: Sequence[BidsAcquisition], models: ModelSet,
                     settings: PredictionSettings | None = None,
                     echo: Callable[[str], None] | None = None) -> BatchSummary:
    """Predict ``acquisitions`` into BIDS derivatives under ``output`` (module docstring).

    A finished acquisition (its report exists) is skipped unless ``settings.overwrite``; a failing one
    is recorded with its one-line error and the next one starts.
    """
    bids_dir, output = Path(bids_dir).resolve(), Path(output).resolve()
    if output == bids_dir:
        raise ISLAError("OUTPUT_DIR is the BIDS folder: give a derivatives folder, e.g. BIDS_DIR/derivatives/isla")
    settings = settings or PredictionSettings()
    output.mkdir(parents=True, exist_ok=True)
    write_dataset_description(output, bids_dir)
    summary = BatchSummary()
    start = time.perf_counter()
    for acquisition in acquisitions:
        report_path = derivative_path(output, acquisition, REPORT)
        case_start = time.perf_counter()
        if report_path.exists() and not settings.overwrite:
            outcome = CaseOutcome(acquisition.prefix, "skipped", report_path.parent,
                                  report=json.loads(report_path.read_text(encoding="utf-8")),
                                  summary=f"{acquisition.prefix}: already done, skipped (--overwrite to redo)")
        else:
            work = output / WORK_FOLDER / f"{acquisition.prefix}.{uuid.uuid4().hex[:8]}"
            spec = CaseSpec(acquisition.prefix, str(acquisition.dwi),
                            adc=str(acquisition.adc) if acquisition.adc else None,
                            b0=str(acquisition.b0) if acquisition.b0 else None, role="test")
            try:
                result = predict_case(spec, models, work, settings)
                _publish(work, output, bids_dir, acquisition)
                outcome = CaseOutcome(acquisition.prefix, "predicted", report_path.parent,
                                      time.perf_counter() - case_start, result.report,
                                      result.summary.replace(str(work), str(report_path.parent)))
            except Exception as err:  # one broken acquisition must not stop the others
                outcome = CaseOutcome(acquisition.prefix, "failed", report_path.parent,
                                      time.perf_counter() - case_start, error=error_line(err))
                outcome.summary = f"{acquisition.prefix}: FAILED: {outcome.error}"
            finally:
                shutil.rmtree(work, ignore_errors=True)
        outcome.qc_picture = derivative_path(output, acquisition, QC_PNG)
        summary.outcomes.append(outcome)
        summary.seconds = time.perf_counter() - start
        if echo is not None:
            echo(outcome.summary)
    work_root = output / WORK_FOLDER
    if work_root.is_dir() and not any(work_root.iterdir()):
        work_root.rmdir()
    return summary


def group_table(output: str | os.PathLike) -> tuple[Path, int]:
    """Write ``OUTPUT/group_lesions.tsv`` from every finished acquisition; returns (path, rows).

    Raises:
        ISLAError: ``output`` holds no finished acquisition.
    """
    output = Path(output)
    reports = sorted(output.glob(f"sub-*/**/*{DERIVATIVE_NAMES[REPORT]}"))
    if not reports:
        raise ISLAError(f"no participant results in {output}: run the participant level first")
    rows = []
    for path in reports:
        report = json.loads(path.read_text(encoding="utf-8"))
        prefix = path.name.removesuffix(DERIVATIVE_NAMES[REPORT])
        entities = dict(part.split("-", 1) for part in prefix.split("_"))
        lesion, registration = report["lesion"], report["registration"]
        rows.append([f"sub-{entities['sub']}", f"ses-{entities['ses']}" if "ses" in entities else "n/a", prefix,
                     lesion["total_volume_ml"], lesion["count"], lesion["stroke_pattern"],
                     lesion["largest_volume_ml"], report["brain"]["volume_ml"],
                     "failed" if registration_failed(registration) else "passed",
                     " + ".join(m.get("name", "") for m in report["models"])])
    text = io.StringIO()
    writer = csv.writer(text, delimiter="\t", lineterminator="\n")
    writer.writerow(GROUP_COLUMNS)
    writer.writerows(rows)
    return write_text_atomic(output / GROUP_FILE, text.getvalue()), len(rows)
