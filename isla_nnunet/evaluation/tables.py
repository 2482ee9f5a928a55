"""CSV files of per-case metrics and of their summaries.

Per-case file (``isla evaluate -o metrics.csv``): one row per case, columns :data:`CASE_COLUMNS`.
Floats are written with ``repr`` (shortest exact round trip), so tied values stay tied when a ranking
reads the file back; undefined values are written ``nan``.
Summary file (``metrics_summary.csv`` beside it): columns :data:`SUMMARY_COLUMNS`, one row per
(group, metric). Ranking file (``isla rank -o``): one row per model, best first.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import astuple, fields
from pathlib import Path

from isla_nnunet.errors import ISLAError
from isla_nnunet.evaluation.metrics import METRICS, RANKED_METRICS
from isla_nnunet.evaluation.ranking import Ranking
from isla_nnunet.evaluation.summary import Statistic
from isla_nnunet.io.atomic import write_text_atomic

CASE_COLUMNS: tuple[str, ...] = (
    "case", *METRICS, "gt_volume_ml", "pred_volume_ml", "gt_lesions", "pred_lesions", "stratum",
)
SUMMARY_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Statistic))


def _cell(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    return str(value)


def _csv_text(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return buffer.getvalue()


def write_case_metrics(rows: Sequence[Mapping[str, object]], path: str | os.PathLike) -> Path:
    """Write per-case rows (dicts with the :data:`CASE_COLUMNS` keys) to ``path`` atomically."""
    return write_text_atomic(path, _csv_text(CASE_COLUMNS, [[row[c] for c in CASE_COLUMNS] for row in rows]))


def write_summary(stats: Sequence[Statistic], path: str | os.PathLike) -> Path:
    """Write summary statistics to ``path`` atomically."""
    return write_text_atomic(path, _csv_text(SUMMARY_COLUMNS, [astuple(s) for s in stats]))


def summary_path(metrics_csv: str | os.PathLike) -> Path:
    """``metrics.csv`` -> ``metrics_summary.csv`` in the same folder."""
    path = Path(metrics_csv)
    return path.with_name(f"{path.stem}_summary.csv")


def read_case_metrics(path: str | os.PathLike, metrics: Sequence[str] = RANKED_METRICS,
                      ) -> dict[str, dict[str, float]]:
    """Read a per-case metrics CSV as ``{case: {metric: value}}`` for the given metric columns.

    Raises:
        ISLAError: missing file, no ``case`` column or a metric column, duplicate case, non-numeric value.
    """
    path = Path(path)
    if not path.is_file():
        raise ISLAError(f"{path} does not exist: give a metrics CSV written by 'isla evaluate -o'")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("case", *metrics) if c not in (reader.fieldnames or [])]
        if missing:
            raise ISLAError(f"{path} lacks the column(s) {', '.join(missing)}: give a metrics CSV written "
                            "by 'isla evaluate -o'")
        table: dict[str, dict[str, float]] = {}
        for line, row in enumerate(reader, start=2):
            case = row["case"]
            if case in table:
                raise ISLAError(f"{path} line {line}: case {case} appears twice: keep one row per case")
            try:
                table[case] = {m: float(row[m]) for m in metrics}
            except (TypeError, ValueError):
                raise ISLAError(f"{path} line {line}: non-numeric metric value: fix or regenerate "
                                "the file") from None
    if not table:
        raise ISLAError(f"{path} has no cases: give a metrics CSV with at least one row")
    return table


def write_ranking(ranking: Ranking, path: str | os.PathLike) -> Path:
    """Write a ranking table (position, model, mean rank, per metric median and mean rank) atomically."""
    columns = ["position", "model", "mean_rank"]
    for metric in ranking.metrics:
        columns += [f"{metric}_median", f"{metric}_mean_rank"]
    rows = []
    for position, model in enumerate(ranking.models, start=1):
        row: list[object] = [position, model.name, model.mean_rank]
        for metric in ranking.metrics:
            row += [model.metric_medians[metric], model.metric_mean_ranks[metric]]
        rows.append(row)
    return write_text_atomic(path, _csv_text(columns, rows))
