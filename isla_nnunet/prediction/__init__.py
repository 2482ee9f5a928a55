"""``isla predict``: native DWI/ADC -> native-space lesion mask, probability, volumes, report, picture.

Public entry points:
    ModelSet.load(models, device="auto", tta=False) -> the models of a run, loaded once
    predict_case(spec, models, outdir, settings) -> CasePrediction (one case, outputs in outdir)
    predict_batch(specs, models, output, settings) -> BatchSummary (many cases, failures collected)
    combine(probabilities, "mean" | "vote") -> Combined (ISLA-ENS mean or DeepISLES majority vote)
    lesion_table(mask, probability) / stroke_pattern(volumes) -> per-lesion table, DeepISLES class

See docs/predict.md.
"""

from isla_nnunet.prediction.batch import BatchSummary, CaseOutcome, predict_batch
from isla_nnunet.prediction.ensemble import Combined, combine, majority_vote, mean_probability, threshold
from isla_nnunet.prediction.model_checks import ModelInfo, check_model_folder
from isla_nnunet.prediction.models import LoadedModel, ModelSet
from isla_nnunet.prediction.pipeline import CasePrediction, PredictionSettings, check_outdir, predict_case
from isla_nnunet.prediction.report import Lesion, lesion_summary, lesion_table, stroke_pattern

__all__ = [
    "BatchSummary",
    "CaseOutcome",
    "CasePrediction",
    "Combined",
    "Lesion",
    "LoadedModel",
    "ModelInfo",
    "ModelSet",
    "PredictionSettings",
    "check_model_folder",
    "check_outdir",
    "combine",
    "lesion_summary",
    "lesion_table",
    "majority_vote",
    "mean_probability",
    "predict_batch",
    "predict_case",
    "stroke_pattern",
    "threshold",
]
