"""Ensemble selection (ISLA §3.3.2) on three hand-built base models whose ranking is known."""

from __future__ import annotations

import json

import numpy as np
import pytest

from isla_nnunet.errors import ISLAError
from isla_nnunet.evaluation.ensemble_selection import enclosing_model_folder, select_ensemble

SHAPE = (3, 8, 12)
SPACING = (2.0, 1.0, 1.0)
LESION = (slice(0, 2), slice(1, 3), slice(1, 3))  # a 2x2x2 cube, the ground truth of every case
X, Y, Z, V = (1, 6, 6), (1, 6, 9), (1, 2, 10), (1, 7, 11)  # separate single voxels outside it


def _probabilities(false_positives: dict) -> np.ndarray:
    p = np.zeros(SHAPE, np.float32)
    p[LESION] = 0.9
    for voxel, value in false_positives.items():
        p[voxel] = value
    return p


# Thresholded at 0.5: A adds 1 false-positive voxel (X), B adds 2 farther ones (Y, Z), C adds 3 (Y, Z, V):
# each is strictly worse than the previous on DSC, AVD, ALD, F1 and HD95, so the ranking is A, B, C.
# Averages: A+B -> X 0.4, Y 0.3, Z 0.3: no false positive left; A+B+C -> X 0.27, Y 0.4, Z 0.4, V 0.2: none.
# Ensembles 2 and 3 are perfect and tie; Ensemble 1 (= A) ranks last: best n = 2 (ties favour fewer models).
MODELS = {
    "model_a": _probabilities({X: 0.6}),
    "model_b": _probabilities({X: 0.2, Y: 0.6, Z: 0.6}),
    "model_c": _probabilities({Y: 0.6, Z: 0.6, V: 0.6}),
}
CASES = ("sub-strokecase0001", "sub-strokecase0002")


@pytest.fixture
def validation(tmp_path, save_image):
    gt = np.zeros(SHAPE, np.uint8)
    gt[LESION] = 1
    for case in CASES:
        save_image(tmp_path / "gt" / f"{case}_ses-0001_msk.nii.gz", gt, SPACING)
    folders = {}
    for name, lesion in MODELS.items():
        folder = tmp_path / name
        folder.mkdir()
        for case in CASES:
            if name == "model_c":  # probability images instead of nnU-Net .npz
                save_image(folder / f"{case}.nii.gz", lesion, SPACING)
            else:
                np.savez_compressed(folder / f"{case}.npz",
                                    probabilities=np.stack([1 - lesion, lesion]).astype(np.float16))
                save_image(folder / f"{case}.nii.gz", (lesion > 0.5).astype(np.uint8), SPACING)
        folders[name] = folder
    return tmp_path / "gt", folders


def test_select_ensemble(validation, tmp_path):
    gt, folders = validation
    output = tmp_path / "out" / "selection.json"
    selection = select_ensemble([folders["model_c"], folders["model_a"], folders["model_b"]], gt,
                                output=output, workers=1)
    assert selection.order == ["model_a", "model_b", "model_c"]
    assert [m.mean_rank for m in selection.base_ranking.models] == pytest.approx([1.0, 2.0, 3.0])
    assert [m.name for m in selection.ensemble_ranking.models] == ["Ensemble 2", "Ensemble 3", "Ensemble 1"]
    # Ensembles 2 and 3 tie on every metric of every case: ranks 1.5, 1.5, then 3.
    assert [m.mean_rank for m in selection.ensemble_ranking.models] == pytest.approx([1.5, 1.5, 3.0])
    assert selection.best_n == 2
    assert selection.members == ["model_a", "model_b"]
    saved = json.loads(output.read_text())
    assert saved["best_n"] == 2
    assert [m["name"] for m in saved["members"]] == ["model_a", "model_b"]
    assert saved["predict_arguments"] == ["-m", str(folders["model_a"].resolve()),
                                          "-m", str(folders["model_b"].resolve())]
    assert saved["n_cases"] == 2
    assert saved["ensembles"][0]["metric_medians"]["dice"] == 1.0
    assert "isla predict -m" in selection.format()


def test_select_ensemble_explicit_model_folders(validation, tmp_path):
    gt, folders = validation
    trained_a, trained_b = tmp_path / "trained_a", tmp_path / "trained_b"
    selection = select_ensemble([folders["model_b"], folders["model_a"]], gt,
                                model_folders=[trained_b, trained_a], workers=1)
    # Ensemble 2 (A + B, perfect) beats Ensemble 1 (A alone); members are listed best first.
    assert selection.predict_arguments == ["-m", str(trained_a.resolve()), "-m", str(trained_b.resolve())]


def test_enclosing_model_folder(tmp_path):
    model = tmp_path / "Dataset001" / "Trainer__Plans__3d_fullres"
    validation = model / "fold_0" / "validation"
    validation.mkdir(parents=True)
    (model / "plans.json").write_text("{}")
    assert enclosing_model_folder(validation) == model.resolve()
    elsewhere = tmp_path / "predictions"
    elsewhere.mkdir()
    assert enclosing_model_folder(elsewhere) == elsewhere.resolve()


def test_select_ensemble_errors(validation, tmp_path):
    gt, folders = validation
    with pytest.raises(ISLAError, match="at least two"):
        select_ensemble([folders["model_a"]], gt)
    with pytest.raises(ISLAError, match="given twice"):
        select_ensemble([folders["model_a"], folders["model_a"]], gt)
    with pytest.raises(ISLAError, match="one model folder per prediction folder"):
        select_ensemble([folders["model_a"], folders["model_b"]], gt, model_folders=[tmp_path])
    (folders["model_b"] / f"{CASES[0]}.npz").unlink()
    (folders["model_b"] / f"{CASES[0]}.nii.gz").unlink()
    with pytest.raises(ISLAError, match="different cases"):
        select_ensemble([folders["model_a"], folders["model_b"]], gt)
    (gt / f"{CASES[1]}_ses-0001_msk.nii.gz").unlink()
    with pytest.raises(ISLAError, match="no ground truth"):
        select_ensemble([folders["model_a"], folders["model_c"]], gt)
