"""Evaluating prediction files against ground-truth files: the library side of ``isla evaluate``.

Example (Python):
    >>> from isla_nnunet.evaluation import evaluate                         # doctest: +SKIP
    >>> report = evaluate("preds/", "labelsTr/", output="metrics.csv")      # doctest: +SKIP
    >>> print(report.format())                                              # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

from isla_nnunet.errors import ISLAError
from isla_nnunet.evaluation.images import check_same_grid, read_mask
from isla_nnunet.evaluation.matching import pair_inputs
from isla_nnunet.evaluation.metrics import HD95_VARIANTS, evaluate_case
from isla_nnunet.evaluation.parallel import map_cases, resolve_workers
from isla_nnunet.evaluation.summary import Statistic, format_summary, lesion_size_stratum, summarize
from isla_nnunet.evaluation.tables import summary_path, write_case_metrics, write_summary


def evaluate_files(pred_path: str | os.PathLike, gt_path: str | os.PathLike,
                   hd95_variant: str = "voxels") -> dict[str, float | str]:
    """Metrics of one prediction file against one ground-truth file (see :func:`evaluate_case`).

    Adds the ``stratum`` of the ground-truth volume; ``hd95_variant`` as in :func:`~.metrics.hd95`.

    Raises:
        ISLAError: unreadable or non-binary masks, different grids.
    """
    pred, gt = read_mask(pred_path), read_mask(gt_path)
    check_same_grid(pred, gt)
    row: dict[str, float | str] = dict(evaluate_case(pred.array, gt.array, gt.geometry.spacing_zyx,
                                                     hd95_variant))
    row["stratum"] = lesion_size_stratum(float(row["gt_volume_ml"]))
    return row


def _evaluate_pair(case: str, pred_path: Path, gt_path: Path, hd95_variant: str = "voxels") -> dict[str, float | str]:
    return {"case": case, **evaluate_files(pred_path, gt_path, hd95_variant)}


@dataclass
class EvaluationReport:
    """Per-case rows, their summary, the unmatched case ids, and the files written."""

    rows: list[dict[str, float | str]]
    summary: list[Statistic]
    only_pred: list[str] = field(default_factory=list)
    only_gt: list[str] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)

    def format(self) -> str:
        """Text for the terminal: case count, warnings about unmatched cases, summary table, outputs."""
        lines = [f"{len(self.rows)} cases evaluated; median [Q1, Q3] overall and by GT lesion volume"]
        if self.only_gt:
            lines.append(f"warning: {len(self.only_gt)} ground-truth cases have no prediction and were "
                         f"skipped (e.g. {self.only_gt[0]})")
        if self.only_pred:
            lines.append(f"warning: {len(self.only_pred)} predictions have no ground truth and were skipped "
                         f"(e.g. {self.only_pred[0]})")
        lines += ["", format_summary(self.summary)]
        lines += [f"wrote {path}" for path in self.outputs]
        return "\n".join(lines)


def evaluate(
    pred: str | os.PathLike,
    gt: str | os.PathLike,
    output: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: bool = False,
    pred_pattern: str = "*",
    gt_pattern: str = "*",
    hd95_variant: str = "voxels",
) -> EvaluationReport:
    """Evaluate predictions against ground truth, matched by case id, and optionally write CSVs.

    Args:
        pred, gt: a mask file each, or folders of masks (nnU-Net or ISLES'22 BIDS names).
        output: per-case CSV to write; the summary goes to ``<stem>_summary.csv`` beside it.
        workers: worker processes (``None``: all CPUs).
        progress: show a progress bar.
        pred_pattern, gt_pattern: file-name globs restricting the folder searches.
        hd95_variant: ``"voxels"`` (ISLA's formula, default) or ``"surface"`` (most other tools).

    Raises:
        ISLAError: unknown HD95 variant, bad worker count, missing inputs, no common case id,
        unreadable/non-binary masks,
        different grids.
    """
    if hd95_variant not in HD95_VARIANTS:
        raise ISLAError(f"unknown HD95 variant {hd95_variant!r}: choose one of {', '.join(HD95_VARIANTS)}")
    workers = resolve_workers(workers)
    pairs = pair_inputs(pred, gt, pred_pattern, gt_pattern)
    rows = map_cases(functools.partial(_evaluate_pair, hd95_variant=hd95_variant), pairs.pairs, workers=workers,
                     progress=progress, description="evaluate")
    report = EvaluationReport(rows, summarize(rows), pairs.only_pred, pairs.only_gt)
    if output is not None:
        report.outputs.append(write_case_metrics(rows, output))
        report.outputs.append(write_summary(report.summary, summary_path(output)))
    return report
