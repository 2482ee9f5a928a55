"""ISLA models through nnU-Net's own commands: nnUNetv2_train, nnUNetv2_predict, nnUNetv2_ensemble."""

import json
import math
import shutil

import nibabel as nib
import numpy as np
import pytest
import torch

from isla_nnunet import reference

pytestmark = pytest.mark.slow

SECOND_TRAINER = "ISLATrainer_GDLBCE_Res_noDS_NoAtt_1epoch"


def _predict(workspace, trainer, output):
    workspace.run("nnUNetv2_predict", "-i", workspace.raw / "imagesTs", "-o", output, "-d", workspace.dataset_id,
                  "-c", "3d_fullres", "-p", "ISLAPlans", "-tr", trainer, "-f", 0, "-device", "cpu",
                  "--save_probabilities", "--disable_tta")
    return output


@pytest.fixture(scope="module")
def predictions(tiny_workspace, trained_isla_model, tmp_path_factory):
    return _predict(tiny_workspace, trained_isla_model.name.split("__")[0], tmp_path_factory.mktemp("pred_b"))


def test_training_checkpoint_follows_the_isla_recipe(tiny_workspace, trained_isla_model):
    checkpoint = torch.load(trained_isla_model / "fold_0" / "checkpoint_final.pth", map_location="cpu",
                            weights_only=False)
    assert checkpoint["trainer_name"] == trained_isla_model.name.split("__")[0]
    assert checkpoint["init_args"]["plans"]["plans_name"] == "ISLAPlans"
    assert checkpoint["current_epoch"] == 1
    logged = checkpoint["logging"]
    assert logged["lrs"] == [pytest.approx(5e-4)]
    assert isinstance(checkpoint["optimizer_state"]["state"], dict)
    assert checkpoint["optimizer_state"]["param_groups"][0].get("betas") is not None  # Adam, not SGD
    log = next((trained_isla_model / "fold_0").glob("training_log_*.txt")).read_text()
    assert "Epoch 0" in log and "Training done." in log


def test_stock_predict_writes_reference_grid_masks_with_sigmoid_semantics(tiny_workspace, predictions):
    cases = sorted(p.name[:-len("_0000.nii.gz")] for p in (tiny_workspace.raw / "imagesTs").glob("*_0000.nii.gz"))
    assert len(cases) == 2
    for case in cases:
        mask_image = nib.load(predictions / f"{case}.nii.gz")
        source = nib.load(tiny_workspace.raw / "imagesTs" / f"{case}_0000.nii.gz")
        assert mask_image.shape == reference.SHAPE_XYZ
        np.testing.assert_allclose(mask_image.affine, source.affine, atol=1e-4)
        mask = np.asarray(mask_image.dataobj)
        assert set(np.unique(mask).tolist()) <= {0, 1}
        probabilities = np.load(predictions / f"{case}.npz")["probabilities"]  # (classes, z, y, x)
        assert probabilities.shape == (2, *reference.SHAPE_ZYX)
        np.testing.assert_allclose(probabilities.sum(0), 1.0, atol=1e-5)
        # The arg-max of [0, z] is sigmoid(z) > 0.5: the mask is the lesion probability thresholded.
        np.testing.assert_array_equal(mask.transpose(2, 1, 0), (probabilities[1] > 0.5).astype(mask.dtype))


def test_stock_ensemble_averages_the_probabilities_of_two_isla_models(tiny_workspace, predictions,
                                                                       tmp_path_factory):
    tiny_workspace.train(SECOND_TRAINER)
    second = _predict(tiny_workspace, SECOND_TRAINER, tmp_path_factory.mktemp("pred_res"))
    ensemble = tmp_path_factory.mktemp("ensemble")
    tiny_workspace.run("nnUNetv2_ensemble", "-i", predictions, second, "-o", ensemble, "-np", 1,
                       "--save_npz")
    for case_file in sorted(predictions.glob("*.npz")):
        mean = (np.load(case_file)["probabilities"] + np.load(second / case_file.name)["probabilities"]) / 2
        np.testing.assert_allclose(np.load(ensemble / case_file.name)["probabilities"], mean, atol=1e-5)
        mask = np.asarray(nib.load(ensemble / case_file.name.replace(".npz", ".nii.gz")).dataobj)
        agree = mask.transpose(2, 1, 0) == (mean[1] > 0.5)
        # Voxels at exactly 0.5 may go either way; nothing else may disagree.
        assert agree.all() or np.abs(mean[1][~agree] - 0.5).max() < 1e-6
    assert math.isfinite(float(mean.sum()))


def test_end_of_training_validation_equals_stock_predict(tiny_workspace, trained_isla_model, tmp_path):
    # nnU-Net's final validation (fold_0/validation, with its test-time mirroring) must hold what
    # nnUNetv2_predict writes for the same cases and checkpoint: both predict nnU-Net's cropped cases.
    split = json.loads((tiny_workspace.preprocessed / "splits_final.json").read_text())[0]
    inputs = tmp_path / "val_images"
    inputs.mkdir()
    for case in split["val"]:
        for image in (tiny_workspace.raw / "imagesTr").glob(f"{case}_*.nii.gz"):
            shutil.copy(image, inputs / image.name)
    output = tmp_path / "val_pred"
    trainer = trained_isla_model.name.split("__")[0]
    tiny_workspace.run("nnUNetv2_predict", "-i", inputs, "-o", output, "-d", tiny_workspace.dataset_id,
                       "-c", "3d_fullres", "-p", "ISLAPlans", "-tr", trainer, "-f", 0, "-device", "cpu",
                       "--save_probabilities", "-chk", "checkpoint_final.pth")
    validation = trained_isla_model / "fold_0" / "validation"
    for case in split["val"]:
        expected = np.asarray(nib.load(output / f"{case}.nii.gz").dataobj)
        np.testing.assert_array_equal(np.asarray(nib.load(validation / f"{case}.nii.gz").dataobj), expected)
        p_val = np.load(validation / f"{case}.npz")["probabilities"]
        p_pred = np.load(output / f"{case}.npz")["probabilities"]
        assert np.abs(p_val.astype(np.float64) - p_pred).max() < 1e-4
