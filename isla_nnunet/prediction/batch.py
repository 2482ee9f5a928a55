"""Many cases with the same models: loaded once, a progress bar, failures reported, the batch goes on.

Cases come from a folder (ISLES'22 or SOOP BIDS layouts, or any folder of ``CASE_dwi`` + ``CASE_adc``
images) or a CSV (``case_id,dwi[,adc][,b0][,brain_mask]``), read by
:func:`isla_nnunet.conversion.discover_cases`. Each case goes to ``OUTPUT/CASE_ID/`` (see
:mod:`.pipeline`). A case whose folder already holds a ``report.json`` is skipped (so an interrupted batch
resumes) unless ``overwrite``. A failing case is recorded with its one-line error and the next one
starts. ``OUTPUT/batch_summary.csv`` lists every case; it is rewritten after each case. A case whose
registration QC failed is predicted, but named in the summary (``registration_qc`` = failed) and in
:meth:`BatchSummary.lines`.

Example:
    >>> with ModelSet.load(["Trainer__ISLAPlans__3d_fullres"]) as models:  # doctest: +SKIP
    ...     summary = predict_batch(discover_cases("cases.csv"), models, "predictions")
    >>> summary.failed  # doctest: +SKIP
    []
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from isla_nnunet.conversion.cases import CaseSpec, check_unique
from isla_nnunet.errors import ISLAError
from isla_nnunet.io.atomic import write_text_atomic
from isla_nnunet.io.folder_lock import folder_lock
from isla_nnunet.prediction.models import ModelSet
from isla_nnunet.prediction.pipeline import REPORT, PredictionSettings, predict_case
from isla_nnunet.prediction.report import registration_failed
from isla_nnunet.prediction.viewer import write_index

SUMMARY_FILE = "batch_summary.csv"
SUMMARY_COLUMNS = ("case_id", "status", "total_volume_ml", "lesion_count", "stroke_pattern",
                   "brain_volume_ml", "registration_qc", "seconds", "output", "error")


@dataclass
class CaseOutcome:
    """One case of a batch: status "predicted", "skipped" (already done) or "failed"."""

    case_id: str
    status: str
    output: Path
    seconds: float = 0.0
    report: dict | None = None
    summary: str = ""
    error: str = ""
    qc_picture: Path | None = None  # where the QC picture is, when not OUTPUT/qc.png

    @property
    def registration_failed(self) -> bool:
        return registration_failed((self.report or {}).get("registration"))

    def row(self) -> list:
        lesion = (self.report or {}).get("lesion", {})
        brain = (self.report or {}).get("brain", {})
        qc = "" if self.report is None else "failed" if self.registration_failed else "passed"
        return [self.case_id, self.status, lesion.get("total_volume_ml", ""), lesion.get("count", ""),
                lesion.get("stroke_pattern", ""), brain.get("volume_ml", ""), qc, round(self.seconds, 2),
                os.fspath(self.output), self.error]


@dataclass
class BatchSummary:
    """Outcomes in input order."""

    outcomes: list[CaseOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def ids(self, status: str) -> list[str]:
        return [o.case_id for o in self.outcomes if o.status == status]

    @property
    def failed(self) -> list[str]:
        return self.ids("failed")

    @property
    def registration_failed(self) -> list[str]:
        """Cases predicted (now or before) whose registration QC failed."""
        return [o.case_id for o in self.outcomes if o.status != "failed" and o.registration_failed]

    def lines(self) -> list[str]:
        out = [f"{len(self.ids('predicted'))} predicted, {len(self.ids('skipped'))} skipped (already done), "
               f"{len(self.failed)} failed, {len(self.registration_failed)} with failed registration QC "
               f"in {self.seconds:.0f} s"]
        out += [f"  FAILED {o.case_id}: {o.error}" for o in self.outcomes if o.status == "failed"]
        out += [f"  REGISTRATION QC FAILED {o.case_id}: check {o.qc_picture or o.output / 'qc.png'} before using "
                "its mask"
                for o in self.outcomes if o.case_id in self.registration_failed]
        return out

    def csv_text(self) -> str:
        handle = io.StringIO()
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(SUMMARY_COLUMNS)
        writer.writerows(o.row() for o in self.outcomes)
        return handle.getvalue()


def error_line(err: Exception) -> str:
    if isinstance(err, ISLAError):
        return str(err)
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0][:200]}" if text else type(err).__name__


def _read_report(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def predict_batch(specs: Sequence[CaseSpec], models: ModelSet, output: str | os.PathLike,
                  settings: PredictionSettings | None = None, progress: bool = True,
                  echo: Callable[[str], None] | None = None) -> BatchSummary:
    """Predict every case of ``specs`` into ``output/CASE_ID``.

    Args:
        specs: cases (lesion masks in them are ignored).
        models: loaded once for the whole batch.
        output: root folder (created).
        settings: prediction settings; ``overwrite`` redoes finished cases.
        progress: show a tqdm bar on stderr.
        echo: called with each case's summary or failure line (the bar steps aside).

    Raises:
        ISLAError: no case, duplicated case ids, or another batch writing to ``output``. A case's own
            problem never raises.
    """
    if not specs:
        raise ISLAError("no case to predict: check the input folder or CSV")
    check_unique(list(specs))
    settings = settings or PredictionSettings()
    root = Path(output)
    if root.exists() and not root.is_dir():
        raise ISLAError(f"output {root} exists and is not a folder: give another -o")
    with folder_lock(root, "isla predict"):
        return _predict_all(specs, models, root, settings, progress, echo)


def _predict_all(specs, models, root: Path, settings: PredictionSettings, progress: bool, echo) -> BatchSummary:
    start = time.perf_counter()
    summary = BatchSummary()
    bar = tqdm(specs, desc="isla predict", unit="case", disable=not progress)
    for spec in bar:
        outdir = root / spec.case_id
        case_start = time.perf_counter()
        report = _read_report(outdir / REPORT) if not settings.overwrite else None
        if report is not None:
            outcome = CaseOutcome(spec.case_id, "skipped", outdir, report=report,
                                  summary=f"{spec.case_id}: already done, skipped (--overwrite to redo)")
        else:
            try:
                result = predict_case(spec, models, outdir, settings)
                outcome = CaseOutcome(spec.case_id, "predicted", outdir, time.perf_counter() - case_start,
                                      result.report, result.summary)
            except Exception as err:  # one broken case must not stop the batch
                outcome = CaseOutcome(spec.case_id, "failed", outdir, time.perf_counter() - case_start,
                                      error=error_line(err))
                outcome.summary = f"{spec.case_id}: FAILED: {outcome.error}"
        summary.outcomes.append(outcome)
        summary.seconds = time.perf_counter() - start
        if echo is not None:
            with tqdm.external_write_mode():
                echo(outcome.summary)
        write_text_atomic(root / SUMMARY_FILE, summary.csv_text())
        if settings.viewer:
            write_index(root, summary.outcomes)
    bar.close()
    return summary
