"""Runs to rank: each is a per-case metrics CSV or a prediction folder evaluated against a ground truth.

This is the library side of ``isla rank``.

Example (Python):
    >>> from isla_nnunet.evaluation import rank_runs                                  # doctest: +SKIP
    >>> print(rank_runs(["isla_b.csv", "preds_deepisles/"], gt="labelsTs/").format())  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from isla_nnunet.errors import ISLAError
from isla_nnunet.evaluation.evaluate import evaluate
from isla_nnunet.evaluation.metrics import RANKED_METRICS
from isla_nnunet.evaluation.parallel import resolve_workers
from isla_nnunet.evaluation.ranking import Ranking, rank_models
from isla_nnunet.evaluation.tables import read_case_metrics, write_ranking


def _is_metrics_csv(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


def run_names(paths: Sequence[str | os.PathLike]) -> list[str]:
    """Display names: a CSV's stem or a folder's name; the full paths when those would collide.

    Example:
        >>> run_names(["a/isla_b.csv", "b/deepisles"])
        ['isla_b', 'deepisles']
    """
    paths = [Path(p) for p in paths]
    short = [p.stem if _is_metrics_csv(p) else p.name for p in paths]
    if len(set(short)) == len(short):
        return short
    return [str(p.with_suffix("")) if _is_metrics_csv(p) else str(p) for p in paths]


def load_run(
    path: str | os.PathLike,
    gt: str | os.PathLike | None = None,
    metrics: Sequence[str] = RANKED_METRICS,
    workers: int | None = None,
    progress: bool = False,
    gt_pattern: str = "*",
) -> dict[str, dict[str, float]]:
    """Per-case metrics of one run: read from a metrics CSV, or computed for a prediction folder.

    Raises:
        ISLAError: a prediction folder without ``gt``, or any evaluation / CSV problem.
    """
    path = Path(path)
    if _is_metrics_csv(path):
        return read_case_metrics(path, metrics)
    if gt is None:
        raise ISLAError(f"{path} is a prediction folder, not a metrics CSV: pass --gt with the ground truth")
    report = evaluate(path, gt, workers=workers, progress=progress, gt_pattern=gt_pattern)
    return {str(row["case"]): {m: float(row[m]) for m in metrics} for row in report.rows}


def rank_runs(
    runs: Sequence[str | os.PathLike],
    gt: str | os.PathLike | None = None,
    names: Sequence[str] | None = None,
    output: str | os.PathLike | None = None,
    metrics: Sequence[str] = RANKED_METRICS,
    workers: int | None = None,
    progress: bool = False,
    gt_pattern: str = "*",
) -> Ranking:
    """Load every run, rank them case by case (:func:`rank_models`) and optionally write the table as CSV.

    Args:
        runs: metrics CSVs and/or prediction folders.
        gt: ground truth for the prediction folders.
        names: display names, one per run (default: :func:`run_names`).
        output: CSV path for the ranking table.
        metrics: metrics to rank on (default: ISLA's DSC, AVD, ALD, F1, HD95).
        workers, progress, gt_pattern: as in :func:`~isla_nnunet.evaluation.evaluate.evaluate`.

    Raises:
        ISLAError: names not one per run or repeated, and everything :func:`load_run` and
        :func:`rank_models` raise.
    """
    workers = resolve_workers(workers)
    names = list(names) if names else run_names(runs)
    if len(names) != len(runs) or len(set(names)) != len(names):
        raise ISLAError(f"give one distinct name per run ({len(runs)} runs, names: {', '.join(names)})")
    tables = {name: load_run(run, gt, metrics, workers, progress, gt_pattern)
              for name, run in zip(names, runs, strict=True)}
    ranking = rank_models(tables, metrics)
    if output is not None:
        write_ranking(ranking, output)
    return ranking
