"""Clèrigues et al.'s post-processing: eq. 2 by hand, the Hausdorff distance on tiny masks, the grid search."""

from __future__ import annotations

import math

import numpy as np
import pytest

from isla_nnunet.errors import ISLAError
from isla_nnunet.evaluation.metrics import dice
from isla_nnunet.evaluation.postprocessing import (
    MIN_SIZES,
    THRESHOLDS,
    PostProcessing,
    case_score,
    combined_score,
    hausdorff_voxels,
    remove_small_lesions,
    search,
    validation_cases,
)


@pytest.mark.parametrize("dsc, hd, expected", [
    (1.0, 0.0, 0.5),                        # 1 * 1 / (1 + 1)
    (0.8, 50.0, 0.8 * 0.75 / 1.55),         # 1 - 50/200 = 0.75: 0.6 / 1.55 = 0.3870967742
    (0.5, 100.0, 0.25),                     # 0.5 * 0.5 / 1.0
    (0.6, 300.0, 0.0),                      # HD beyond HDmax: the distance term is 0
    (0.0, 0.0, 0.0),                        # no overlap
    (0.0, 200.0, 0.0),                      # both terms 0: defined as 0, not 0/0
    (0.9, math.inf, 0.0),                   # an empty prediction of a lesion
])
def test_combined_score_by_hand(dsc, hd, expected):
    assert combined_score(dsc, hd) == pytest.approx(expected, abs=1e-12)


def test_hausdorff_of_single_voxels_is_their_distance():
    a, b = np.zeros((1, 10, 10), bool), np.zeros((1, 10, 10), bool)
    a[0, 1, 1], b[0, 4, 5] = True, True
    assert hausdorff_voxels(a, b) == 5.0   # 3-4-5 triangle


def test_hausdorff_is_the_larger_directed_distance_between_surfaces():
    # gt: a 5 x 5 square; pred: the same square plus one voxel 4 columns to its right.
    gt = np.zeros((1, 9, 15), bool)
    gt[0, 2:7, 2:7] = True
    pred = gt.copy()
    pred[0, 4, 10] = True
    assert hausdorff_voxels(pred, gt) == 4.0   # the extra voxel to the square's edge (column 6)
    assert hausdorff_voxels(gt, gt) == 0.0
    assert hausdorff_voxels(np.zeros_like(gt), np.zeros_like(gt)) == 0.0
    assert hausdorff_voxels(np.zeros_like(gt), gt) == math.inf


def test_remove_small_lesions_counts_26_connected_voxels():
    mask = np.zeros((4, 6, 6), bool)
    mask[0, 0, 0] = mask[1, 1, 1] = True      # diagonal neighbours: one lesion of 2 voxels
    mask[3, 3:6, 3:6] = True                  # 9 voxels
    assert remove_small_lesions(mask, 3).sum() == 9
    assert remove_small_lesions(mask, 2).sum() == 11
    assert remove_small_lesions(mask, 10).sum() == 0
    assert remove_small_lesions(mask, 0).sum() == 11


def case(rng_seed: int = 0):
    """A 64-voxel lesion at p = 0.6, three 8-voxel false blobs at p = 0.9, background 0.2."""
    probability = np.full((20, 40, 40), 0.2, np.float32)
    label = np.zeros(probability.shape, bool)
    probability[8:12, 18:22, 18:22], label[8:12, 18:22, 18:22] = 0.6, True
    for z, y, x in ((1, 2, 2), (15, 30, 5), (2, 33, 33)):
        probability[z:z + 2, y:y + 2, x:x + 2] = 0.9
    return probability, label


def test_search_finds_the_settings_that_remove_the_false_blobs():
    result = search([case()])
    # Th 0.2-0.5 keep the lesion; Smin 10-50 drop the 8-voxel blobs but keep the 64-voxel lesion. Ties
    # go to the smallest Smin, then to the threshold nearest 0.5.
    assert result.best == PostProcessing(0.5, 10)
    assert result.score == pytest.approx(0.5)
    assert result.table[0.5, 100] == 0.0                    # the lesion removed too
    probability, label = case()
    unfiltered = probability > 0.5
    assert result.table[0.5, 10] > case_score(remove_small_lesions(unfiltered, 1), label)
    assert set(result.table) == {(t, s) for t in THRESHOLDS for s in MIN_SIZES}


def test_search_table_is_the_mean_of_per_case_scores():
    first, second = case(), case()
    second[0][8:12, 18:22, 18:20] = 0.35   # half of the second lesion below 0.4
    result = search([first, second], thresholds=(0.4,), min_sizes=(10,))
    expected = np.mean([case_score(remove_small_lesions(p > 0.4, 10), g) for p, g in (first, second)])
    assert result.table[0.4, 10] == pytest.approx(expected)
    half = remove_small_lesions(second[0] > 0.4, 10)
    assert dice(half, second[1]) == pytest.approx(2 * 32 / (32 + 64))


def test_settings_round_trip_and_apply(tmp_path):
    settings = PostProcessing(0.4, 20)
    settings.save(tmp_path / "postprocessing.json", score=0.41)
    assert PostProcessing.load(tmp_path / "postprocessing.json") == settings
    probability, _ = case()
    assert settings.apply(probability).sum() == 64


@pytest.mark.parametrize("kwargs, match", [({"threshold": 0.0}, "threshold"), ({"threshold": 1.2}, "threshold"),
                                           ({"min_size_voxels": -1}, "minimum lesion size")])
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(ISLAError, match=match):
        PostProcessing(**kwargs)


def test_bad_files_and_cases_are_refused(tmp_path):
    with pytest.raises(ISLAError, match="not found"):
        PostProcessing.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"threshold": 0.5}')
    with pytest.raises(ISLAError, match="not a post-processing file"):
        PostProcessing.load(tmp_path / "bad.json")
    with pytest.raises(ISLAError, match="no validation cases"):
        search([])
    probability, label = case()
    with pytest.raises(ISLAError, match="differ in shape"):
        search([(probability, label[:-1])])
    with pytest.raises(ISLAError, match=r"\[0, 1\]"):
        search([(probability * 2, label)])


def test_validation_cases_read_nnunet_probabilities_and_labels(tmp_path):
    import nibabel as nib

    model = tmp_path / "Dataset001_X" / "T__P__3d_fullres"
    (model / "fold_0" / "validation").mkdir(parents=True)
    labels = tmp_path / "gt"
    labels.mkdir()
    probability, label = case()
    np.savez(model / "fold_0" / "validation" / "c1.npz", probabilities=np.stack([1 - probability, probability]))
    nib.save(nib.Nifti1Image(label.transpose(2, 1, 0).astype(np.uint8), np.eye(4)), labels / "c1.nii.gz")
    [(name, p, g)] = list(validation_cases(model, ["0"], labels))
    assert name == "c1" and np.array_equal(p, probability) and np.array_equal(g, label)
    nib.save(nib.Nifti1Image(np.zeros((3, 3, 3), np.uint8), np.eye(4)), labels / "c1.nii.gz")
    with pytest.raises(ISLAError, match="labels of another dataset"):
        list(validation_cases(model, ["0"], labels))
    with pytest.raises(ISLAError, match="--npz"):
        list(validation_cases(model, ["1"], labels))
    (labels / "c1.nii.gz").unlink()
    with pytest.raises(ISLAError, match="no label"):
        list(validation_cases(model, ["0"], labels))
