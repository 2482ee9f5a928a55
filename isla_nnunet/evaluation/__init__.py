"""Evaluation of lesion segmentations: ISLES'22 metrics, HD95, summaries, ranking, ensembles, error maps.

Pure numpy/scipy/cc3d code (no torch), usable from Python and behind the ``isla evaluate``, ``isla rank``,
``isla select-ensemble`` and ``isla error-maps`` commands. See docs/evaluation.md.
"""

from isla_nnunet.evaluation.ensemble_selection import (
    EnsembleSelection,
    enclosing_model_folder,
    select_ensemble,
)
from isla_nnunet.evaluation.error_maps import ErrorMaps, compute_error_maps, make_error_maps, write_error_maps
from isla_nnunet.evaluation.evaluate import EvaluationReport, evaluate, evaluate_files
from isla_nnunet.evaluation.images import Geometry, Image, check_same_grid, read_mask, read_probability
from isla_nnunet.evaluation.matching import case_id, find_cases, match_cases, pair_inputs
from isla_nnunet.evaluation.metrics import (
    METRICS,
    RANKED_METRICS,
    absolute_lesion_difference,
    absolute_volume_difference,
    dice,
    evaluate_case,
    hd95,
    lesion_count,
    lesion_detection,
    lesion_f1,
    precision,
    recall,
    volume_ml,
)
from isla_nnunet.evaluation.ranking import Ranking, case_ranks, rank_models
from isla_nnunet.evaluation.runs import rank_runs
from isla_nnunet.evaluation.summary import STRATA, Statistic, describe, lesion_size_stratum, summarize
from isla_nnunet.evaluation.tables import read_case_metrics, write_case_metrics

__all__ = [
    "METRICS",
    "RANKED_METRICS",
    "STRATA",
    "EnsembleSelection",
    "ErrorMaps",
    "EvaluationReport",
    "Geometry",
    "Image",
    "Ranking",
    "Statistic",
    "absolute_lesion_difference",
    "absolute_volume_difference",
    "case_id",
    "case_ranks",
    "check_same_grid",
    "compute_error_maps",
    "describe",
    "dice",
    "enclosing_model_folder",
    "evaluate",
    "evaluate_case",
    "evaluate_files",
    "find_cases",
    "hd95",
    "lesion_count",
    "lesion_detection",
    "lesion_f1",
    "lesion_size_stratum",
    "make_error_maps",
    "match_cases",
    "pair_inputs",
    "precision",
    "rank_models",
    "rank_runs",
    "read_case_metrics",
    "read_mask",
    "read_probability",
    "recall",
    "select_ensemble",
    "summarize",
    "volume_ml",
    "write_case_metrics",
    "write_error_maps",
]
