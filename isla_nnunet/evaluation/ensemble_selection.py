"""Choosing the ensemble size as ISLA did for ISLA-ENS (§3.3.2, Table 4).

1. Every base model's validation probabilities are thresholded (p > 0.5) and evaluated; the base models
   are ordered by case-level ranking (:mod:`~isla_nnunet.evaluation.ranking`).
2. "Ensemble n" averages the probabilities of the n best-ranked base models, then thresholds at 0.5
   (ISLA §3.2.5; nnU-Net's ``nnUNetv2_ensemble`` also averages), for n = 1..N.
3. The N ensembles are ranked the same way; the best one gives ``best_n`` and its members.

Inputs are prediction folders, one per base model, holding ``CASE.npz`` files from
``nnUNetv2_predict --save_probabilities`` (lesion = channel 1) or probability images (NIfTI, mha, nrrd).

The JSON written for ``isla predict`` lists the members best first, each with its prediction folder and
its model folder: the nearest enclosing folder holding nnU-Net's ``plans.json`` (e.g. the
``Trainer__Plans__3d_fullres`` folder above ``fold_0/validation``), unless given explicitly.
``predict_arguments`` is ready to splice into a command line: ``-m FOLDER`` per member.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from isla_nnunet.errors import ISLAError
from isla_nnunet.evaluation.images import read_mask, read_probability
from isla_nnunet.evaluation.matching import find_cases
from isla_nnunet.evaluation.metrics import RANKED_METRICS, evaluate_case
from isla_nnunet.evaluation.parallel import map_cases, resolve_workers
from isla_nnunet.evaluation.ranking import Ranking, rank_models
from isla_nnunet.evaluation.runs import run_names
from isla_nnunet.io.atomic import write_text_atomic

THRESHOLD = 0.5
_MODEL_FOLDER_SEARCH_DEPTH = 3


def enclosing_model_folder(prediction_folder: str | os.PathLike) -> Path:
    """Nearest folder at or up to three levels above ``prediction_folder`` holding ``plans.json``.

    Falls back to ``prediction_folder`` itself when there is none (predictions written elsewhere).
    """
    folder = Path(prediction_folder).resolve()
    for candidate in [folder, *folder.parents][: _MODEL_FOLDER_SEARCH_DEPTH + 1]:
        if (candidate / "plans.json").is_file():
            return candidate
    return folder


def ensemble_name(n: int) -> str:
    """Label of the ensemble of the ``n`` best base models, as in ISLA's Table 4."""
    return f"Ensemble {n}"


@dataclass(frozen=True)
class EnsembleSelection:
    """Rankings of the base models and of the ensembles, and the chosen ensemble."""

    base_ranking: Ranking
    ensemble_ranking: Ranking
    prediction_folders: dict[str, Path]
    model_folders: dict[str, Path]

    @property
    def order(self) -> list[str]:
        """Base model names, best first."""
        return [model.name for model in self.base_ranking.models]

    @property
    def best_n(self) -> int:
        return int(self.ensemble_ranking.best.name.removeprefix("Ensemble "))

    @property
    def members(self) -> list[str]:
        """Names of the chosen ensemble's members, best first."""
        return self.order[: self.best_n]

    @property
    def predict_arguments(self) -> list[str]:
        """``["-m", folder, "-m", folder, ...]`` for ``isla predict``."""
        return [arg for name in self.members for arg in ("-m", str(self.model_folders[name]))]

    def to_json(self) -> dict:
        return {
            "best_n": self.best_n,
            "members": [
                {"name": name, "predictions": str(self.prediction_folders[name]),
                 "model_folder": str(self.model_folders[name])}
                for name in self.members
            ],
            "predict_arguments": self.predict_arguments,
            "n_cases": self.base_ranking.n_cases,
            "metrics": list(self.base_ranking.metrics),
            "base_models": [asdict(model) for model in self.base_ranking.models],
            "ensembles": [asdict(model) for model in self.ensemble_ranking.models],
        }

    def format(self) -> str:
        """Both ranking tables and the chosen ensemble, for the terminal."""
        return "\n".join([
            "Base models (case-level ranking on the validation cases):",
            self.base_ranking.format(),
            "",
            "Ensembles (Ensemble n = mean probability of the n best base models, > 0.5):",
            self.ensemble_ranking.format(),
            "",
            f"best: {ensemble_name(self.best_n)} = {', '.join(self.members)}",
            f"isla predict {' '.join(self.predict_arguments)} <inputs and outputs>",
        ])


def _base_case(probability_paths: Sequence[Path], gt_path: Path) -> list[dict[str, float]]:
    gt = read_mask(gt_path)
    rows = []
    for path in probability_paths:
        lesion = read_probability(path, gt.geometry).array > THRESHOLD
        rows.append(evaluate_case(lesion, gt.array, gt.geometry.spacing_zyx))
    return rows


def _ensemble_case(ranked_paths: Sequence[Path], gt_path: Path) -> list[dict[str, float]]:
    gt = read_mask(gt_path)
    total = np.zeros(gt.geometry.shape_zyx, dtype=np.float64)
    rows = []
    for n, path in enumerate(ranked_paths, start=1):
        total += read_probability(path, gt.geometry).array
        rows.append(evaluate_case(total / n > THRESHOLD, gt.array, gt.geometry.spacing_zyx))
    return rows


def _column(cases: Sequence[str], rows_per_case: Sequence[Sequence[dict]], index: int) -> dict[str, dict]:
    """``{case: metrics of model ``index``}`` from per-case lists of per-model metrics."""
    return {case: rows[index] for case, rows in zip(cases, rows_per_case, strict=True)}


def _case_table(
    prediction_folders: Sequence[Path], gt: str | os.PathLike, gt_pattern: str, names: Sequence[str]
) -> tuple[list[str], dict[str, list[Path]], dict[str, Path]]:
    per_model = [find_cases(folder, probabilities=True) for folder in prediction_folders]
    cases = sorted(per_model[0])
    for name, found in zip(names[1:], per_model[1:], strict=True):
        if set(found) != set(cases):
            example = sorted(set(found) ^ set(cases))[0]
            raise ISLAError(f"{names[0]} and {name} have predictions for different cases (e.g. {example}): "
                            "predict the same validation cases with every model")
    gt_cases = find_cases(gt, gt_pattern)
    missing = [c for c in cases if c not in gt_cases]
    if missing:
        raise ISLAError(f"{len(missing)} predicted cases have no ground truth (e.g. {missing[0]}): "
                        "check --gt and the case names")
    return cases, {c: [found[c] for found in per_model] for c in cases}, {c: gt_cases[c] for c in cases}


def select_ensemble(
    prediction_folders: Sequence[str | os.PathLike],
    gt: str | os.PathLike,
    model_folders: Sequence[str | os.PathLike] | None = None,
    output: str | os.PathLike | None = None,
    metrics: Sequence[str] = RANKED_METRICS,
    workers: int | None = None,
    progress: bool = False,
    gt_pattern: str = "*",
) -> EnsembleSelection:
    """Rank base models, build Ensemble 1..N from the best-ranked ones, rank those, pick the best.

    Args:
        prediction_folders: one folder of validation probabilities per base model.
        gt: ground-truth masks (folder or file), matched by case id.
        model_folders: the model folder each prediction folder came from, in the same order (default:
            :func:`enclosing_model_folder`).
        output: JSON file to write (see the module docstring for its content).
        metrics: ranking metrics (default ISLA's five).
        workers, progress: worker processes and progress bar.
        gt_pattern: file-name glob for the ground-truth search.

    Raises:
        ISLAError: fewer than two models, repeated folders, different case sets, missing ground truth,
        invalid probabilities, grids that differ from the ground truth.
    """
    workers = resolve_workers(workers)
    folders = [Path(f) for f in prediction_folders]
    if len(folders) < 2:
        raise ISLAError("ensemble selection needs at least two base models: give two or more "
                        "prediction folders")
    if len({f.resolve() for f in folders}) != len(folders):
        raise ISLAError("the same prediction folder is given twice: give each base model once")
    if model_folders is not None and len(model_folders) != len(folders):
        raise ISLAError(f"give one model folder per prediction folder ({len(model_folders)} given for "
                        f"{len(folders)} folders)")
    names = run_names(folders)
    cases, probabilities, gt_paths = _case_table(folders, gt, gt_pattern, names)

    base_rows = map_cases(_base_case, [(probabilities[c], gt_paths[c]) for c in cases],
                          workers=workers, progress=progress, description="base models")
    base_ranking = rank_models({name: _column(cases, base_rows, i) for i, name in enumerate(names)}, metrics)
    order = [names.index(model.name) for model in base_ranking.models]
    ensemble_tasks = [([probabilities[c][i] for i in order], gt_paths[c]) for c in cases]
    ensemble_rows = map_cases(_ensemble_case, ensemble_tasks, workers=workers, progress=progress,
                              description="ensembles")
    ensemble_ranking = rank_models(
        {ensemble_name(n): _column(cases, ensemble_rows, n - 1) for n in range(1, len(folders) + 1)}, metrics)
    chosen_models = [Path(m).resolve() for m in model_folders] if model_folders else [
        enclosing_model_folder(f) for f in folders]
    selection = EnsembleSelection(
        base_ranking=base_ranking,
        ensemble_ranking=ensemble_ranking,
        prediction_folders={name: folder.resolve() for name, folder in zip(names, folders, strict=True)},
        model_folders=dict(zip(names, chosen_models, strict=True)),
    )
    if output is not None:
        write_text_atomic(output, json.dumps(selection.to_json(), indent=2) + "\n")
    return selection
