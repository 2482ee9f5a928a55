"""Running a conversion over many cases: parallel, resumable, failures collected, summary written.

- Parallel: ``num_processes`` worker processes (spawned, each single-threaded in SimpleITK so that N
  workers use about N cores); 1 runs in this process with SimpleITK's default threading.
- Resumable: a case whose outputs all exist (:meth:`DatasetFolder.is_done`) is skipped unless
  ``overwrite``; files are written atomically and the transform last, so an interrupted case is redone.
- Failures: a failing case is recorded with its one-line error and the others go on.
- At the end ``dataset.json`` is rebuilt from the folder and ``conversion_summary.json`` lists every case
  (skipped cases keep the QC score saved in their transform file).

Example:
    >>> summary = convert_dataset(specs, "nnUNet_raw/Dataset101_ISLES22", num_processes=2)  # doctest: +SKIP
    >>> summary.failed, summary.flagged  # doctest: +SKIP
    ([], [])
"""

from __future__ import annotations

import concurrent.futures as futures
import json
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import SimpleITK as sitk
from tqdm import tqdm

from isla_nnunet.conversion.case_conversion import CaseResult, convert_case
from isla_nnunet.conversion.cases import CaseSpec, check_unique
from isla_nnunet.conversion.dataset import SUMMARY_FILE, DatasetFolder
from isla_nnunet.conversion.qc import NCC_THRESHOLD
from isla_nnunet.errors import ISLAError
from isla_nnunet.worker_exit import exit_with_parent


@dataclass
class ConversionSummary:
    """What a run did; ``results`` in input order."""

    dataset: str
    results: list[CaseResult] = field(default_factory=list)
    seconds: float = 0.0

    def _ids(self, predicate: Callable[[CaseResult], bool]) -> list[str]:
        return [r.case_id for r in self.results if predicate(r)]

    @property
    def failed(self) -> list[str]:
        return self._ids(lambda r: r.status == "failed")

    @property
    def flagged(self) -> list[str]:
        return self._ids(lambda r: r.qc_flagged)

    @property
    def mask_flagged(self) -> list[str]:
        return self._ids(lambda r: r.mask_flagged)

    @property
    def converted(self) -> list[str]:
        return self._ids(lambda r: r.status == "converted")

    @property
    def skipped(self) -> list[str]:
        return self._ids(lambda r: r.status == "skipped")

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "seconds": self.seconds,
            "converted": len(self.converted),
            "skipped": len(self.skipped),
            "failed": self.failed,
            "qc_flagged": self.flagged,
            "mask_flagged": self.mask_flagged,
            "cases": [r.to_dict() for r in self.results],
        }

    def lines(self) -> list[str]:
        """Human-readable summary, one line per fact, failures and flags spelled out."""
        out = [
            f"{self.dataset}: {len(self.converted)} converted, {len(self.skipped)} skipped (already done), "
            f"{len(self.failed)} failed in {self.seconds:.0f} s"
        ]
        out += [f"  FAILED {r.case_id}: {r.error}" for r in self.results if r.status == "failed"]
        out += [
            f"  QC flag {r.case_id}: NCC {r.qc_score:.2f} below threshold, check its QC picture"
            for r in self.results
            if r.qc_flagged
        ]
        out += [
            f"  mask flag {r.case_id}: mean DWI in the lesion mask is {r.mask_contrast:.2f} x the head's median "
            f"(masks of their own DWI >= 1.7 x): check that the mask belongs to this scan"
            for r in self.results
            if r.mask_flagged
        ]
        return out


def _safe_convert(spec: CaseSpec, folder_path: str, brain_method: str, qc_threshold: float,
                  binarize_masks: bool, grid: str) -> CaseResult:
    start = time.perf_counter()
    try:
        return convert_case(spec, DatasetFolder(folder_path, grid), brain_method, qc_threshold, binarize_masks)
    except ISLAError as err:
        message = str(err)
    except Exception as err:  # one broken case must not stop the others
        message = (
            f"{type(err).__name__}: {str(err).strip().splitlines()[0][:200] if str(err).strip() else ''}"
        )
    return CaseResult(spec.case_id, spec.role, "failed", time.perf_counter() - start, error=message)


def _single_threaded() -> None:
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)


def _skipped(folder: DatasetFolder, spec: CaseSpec) -> CaseResult:
    try:
        info = json.loads(folder.transform_path(spec.case_id).read_text(encoding="utf-8")).get("info", {})
    except (OSError, ValueError):
        info = {}
    qc = info.get("qc", {})
    return CaseResult(
        spec.case_id,
        spec.role,
        "skipped",
        qc_score=qc.get("ncc"),
        qc_flagged=bool(qc.get("flagged", False)),
        brain_method=info.get("brain_method"),
    )


def convert_dataset(
    specs: list[CaseSpec],
    output: str | os.PathLike,
    num_processes: int = 1,
    brain_method: str = "auto",
    overwrite: bool = False,
    qc_threshold: float = NCC_THRESHOLD,
    progress: bool = True,
    binarize_masks: bool = False,
    grid: str = "reference",
) -> ConversionSummary:
    """Convert ``specs`` into the nnU-Net raw dataset folder ``output``.

    Args:
        specs: cases (see :mod:`isla_nnunet.conversion.layouts`).
        output: ``.../DatasetNNN_Name`` folder (created when missing).
        num_processes: worker processes (>= 1).
        brain_method: brain extraction method or mask path for cases without their own brain mask.
        overwrite: redo cases that are already finished.
        qc_threshold: NCC below which a case is flagged.
        progress: show a tqdm progress bar.
        binarize_masks: count every lesion-mask value > 0 as lesion; by default a mask with values
            other than 0 and 1 fails its case.
        grid: "reference" (ISLA's reference grid) or "native" (each case's own DWI grid, see
            :mod:`isla_nnunet.conversion.dataset`).

    Raises:
        ISLAError: bad folder name, duplicated case ids, ``num_processes`` < 1, or a case id already in
            the dataset under another role, a folder holding cases on the other grid.
    """
    start = time.perf_counter()
    folder = DatasetFolder(output, grid)
    check_unique(specs)
    if num_processes < 1:
        raise ISLAError(f"-np {num_processes} is not a number of processes: give 1 or more")
    for spec in specs:
        for role in ("train", "test", "unlabeled"):
            if role != spec.role and folder.is_done(spec.case_id, role):
                raise ISLAError(
                    f"case {spec.case_id} is already in {folder.name} as {role}: "
                    "give it another id (--prefix) or remove the old files"
                )
    folder.path.mkdir(parents=True, exist_ok=True)

    results: dict[str, CaseResult] = {}
    todo = []
    for spec in specs:
        if not overwrite and folder.is_done(spec.case_id, spec.role):
            results[spec.case_id] = _skipped(folder, spec)
        else:
            todo.append(spec)

    bar = tqdm(
        total=len(todo), desc=f"isla convert {folder.name}", unit="case", disable=not progress or not todo
    )
    if num_processes == 1 or len(todo) <= 1:
        for spec in todo:
            results[spec.case_id] = _safe_convert(spec, str(folder.path), brain_method, qc_threshold, binarize_masks,
                                                   grid)
            bar.update()
    else:
        context = multiprocessing.get_context("spawn")
        with futures.ProcessPoolExecutor(
            min(num_processes, len(todo)), mp_context=context, initializer=exit_with_parent,
            initargs=(os.getpid(), _single_threaded)
        ) as pool:
            jobs = {
                pool.submit(_safe_convert, spec, str(folder.path), brain_method, qc_threshold, binarize_masks,
                            grid): spec
                for spec in todo
            }
            for job in futures.as_completed(jobs):
                spec = jobs[job]
                try:
                    results[spec.case_id] = job.result()
                except Exception as err:  # a crashed worker fails its case only
                    results[spec.case_id] = CaseResult(
                        spec.case_id, spec.role, "failed", error=f"worker crashed ({type(err).__name__})"
                    )
                bar.update()
    bar.close()

    folder.write_dataset_json()
    summary = ConversionSummary(folder.name, [results[s.case_id] for s in specs], time.perf_counter() - start)
    folder.write_json(SUMMARY_FILE, summary.to_dict())
    return summary
