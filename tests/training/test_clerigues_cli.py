"""Clèrigues et al.'s method through nnU-Net's own commands: isla plan --planner clerigues, nnUNetv2_train,
nnUNetv2_predict."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from isla_nnunet.errors import ISLAError
from isla_nnunet.nnunet.clerigues_planning import BATCH_SIZE, NETWORK_CLASS, PATCH_SIZE_ZYX, PLANS_NAME

pytestmark = pytest.mark.slow

DATASET_ID = 992
TRAINER = "CleriguesTrainer_2epochs"


@pytest.fixture(scope="module")
def patch_workspace(tiny_workspace):
    """Six simulated cases (and one test case) with symmetric channels, planned with CleriguesPlans."""
    from isla_nnunet.simulation.dataset import write_nnunet_dataset

    folder = write_nnunet_dataset(tiny_workspace.env["nnUNet_raw"], DATASET_ID, "TinyPatch", n_train=6, n_test=1,
                                  seed=11)
    tiny_workspace.run("isla", "add-symmetric-channels", folder / "imagesTr", folder / "imagesTs")
    tiny_workspace.run("isla", "plan", "--planner", "clerigues", "-d", DATASET_ID)
    return tiny_workspace, folder.name


@pytest.fixture(scope="module")
def trained(patch_workspace):
    workspace, name = patch_workspace
    workspace.run("nnUNetv2_train", DATASET_ID, "3d_fullres", 0, "-p", PLANS_NAME, "-tr", TRAINER, "-device", "cpu",
                  "--npz")
    return workspace, name, Path(workspace.env["nnUNet_results"]) / name / f"{TRAINER}__{PLANS_NAME}__3d_fullres"


def test_plans_hold_the_patch_network_at_the_dataset_spacing(patch_workspace):
    workspace, name = patch_workspace
    plans = json.loads((Path(workspace.env["nnUNet_preprocessed"]) / name / f"{PLANS_NAME}.json").read_text())
    configuration = plans["configurations"]["3d_fullres"]
    assert configuration["patch_size"] == list(PATCH_SIZE_ZYX)
    assert configuration["batch_size"] == BATCH_SIZE
    assert configuration["architecture"]["network_class_name"] == NETWORK_CLASS
    assert configuration["architecture"]["arch_kwargs"]["features_per_stage"] == [32, 64, 128, 256]
    assert configuration["spacing"] == pytest.approx([6.0, 0.9, 0.9])   # the simulated cases' own grid
    assert "3d_lowres" not in plans["configurations"]
    channels = json.loads((Path(workspace.env["nnUNet_raw"]) / name / "dataset.json").read_text())["channel_names"]
    assert list(channels.values())[2:] == [f"{v}_sym" for v in list(channels.values())[:2]]


def test_two_epochs_train_with_the_recipe_and_log_the_monitored_metric(trained):
    _, _, model = trained
    checkpoint = torch.load(model / "fold_0" / "checkpoint_final.pth", map_location="cpu", weights_only=False)
    assert checkpoint["trainer_name"] == TRAINER and checkpoint["current_epoch"] == 2
    assert "rho" in checkpoint["optimizer_state"]["param_groups"][0]   # Adadelta
    assert checkpoint["grad_scaler_state"]["scale"] <= 1.0   # nnU-Net's scaler skips non-finite CPU steps; --c keeps it
    monitored = checkpoint["logging"]["val_l1_error"]
    assert len(monitored) == 2 and all(0 <= v <= 2 for v in monitored)
    log = next((model / "fold_0").glob("training_log_*.txt")).read_text()
    assert log.count("validation L1 + error rate") == 2
    assert checkpoint["network_weights"]["encoder.stem.0.weight"].shape[1] == 4   # DWI, ADC and mirrors


def test_stock_predict_writes_a_mask_on_the_case_grid(trained, tmp_path):
    workspace, name, _ = trained
    images = Path(workspace.env["nnUNet_raw"]) / name / "imagesTs"
    workspace.run("nnUNetv2_predict", "-i", images, "-o", tmp_path, "-d", DATASET_ID, "-c", "3d_fullres",
                  "-p", PLANS_NAME, "-tr", TRAINER, "-f", 0, "-device", "cpu", "--disable_tta", "-step_size", "1")
    case = sorted(images.glob("*_0000.nii.gz"))[0]
    mask = nib.load(tmp_path / case.name.replace("_0000", ""))
    source = nib.load(case)
    assert mask.shape == source.shape and np.allclose(mask.affine, source.affine)
    assert set(np.unique(np.asarray(mask.dataobj))) <= {0, 1}


def test_isla_only_options_are_refused_for_clerigues_plans(patch_workspace):
    workspace, _ = patch_workspace
    with pytest.raises(ISLAError, match="applies to ISLA plans only"):
        workspace.run("isla", "plan", "--planner", "clerigues", "-d", DATASET_ID, "--batch-size", "2")


def test_postprocessing_search_on_the_validation_cases(trained):
    from isla_nnunet.evaluation.postprocessing import MIN_SIZES, THRESHOLDS, PostProcessing

    workspace, _, model = trained
    workspace.run("isla", "search-postprocessing", "-m", model)
    settings = json.loads((model / "postprocessing.json").read_text())
    best = PostProcessing.load(model / "postprocessing.json")
    assert best.threshold in THRESHOLDS and best.min_size_voxels in MIN_SIZES
    assert len(settings["grid"]) == len(THRESHOLDS) * len(MIN_SIZES)
    assert settings["score"] == pytest.approx(max(row["score"] for row in settings["grid"]), abs=1e-6)
    assert settings["cases"] == sorted(p.stem for p in (model / "fold_0" / "validation").glob("*.npz"))


@pytest.fixture(scope="module")
def searched(trained):
    workspace, name, model = trained
    if not (model / "postprocessing.json").exists():
        workspace.run("isla", "search-postprocessing", "-m", model)
    return workspace, name, model


def test_isla_predict_reads_mirrored_channels_runs_dense_patches_and_applies_the_stored_postprocessing(
        searched, tmp_path):
    from isla_nnunet.conversion.cases import CaseSpec
    from isla_nnunet.evaluation.postprocessing import PostProcessing
    from isla_nnunet.prediction.models import ModelSet
    from isla_nnunet.prediction.pipeline import predict_case

    workspace, name, model = searched
    images = Path(workspace.env["nnUNet_raw"]) / name / "imagesTs"
    case = sorted(images.glob("*_0000.nii.gz"))[0]
    adc = case.with_name(case.name.replace("_0000", "_0001"))
    rule = PostProcessing.load(model / "postprocessing.json")
    with ModelSet.load([model], device="cpu", patch_step=(8, 24, 24)) as models:
        assert models[0].input_channels == 4 and models[0].dense_step == (8, 24, 24)
        assert models[0].postprocessing == rule
        result = predict_case(CaseSpec("c", case, adc=adc), models, tmp_path / "c")
    report = result.report
    assert report["models"][0]["symmetric_channels"] is True
    assert report["models"][0]["inference"] == {"method": "dense patches, mean probability", "step_zyx": [8, 24, 24]}
    assert report["ensemble"]["rule"] == rule.describe()
    assert "symmetric_channels" in report["timings_s"]
    # the mask is the stored threshold and minimum size on the reference grid, not p > 0.5
    assert np.array_equal(result.reference_mask, rule.apply(result.reference_probability).astype(np.uint8))
    probability = result.reference_probability
    assert probability.min() >= 0 and probability.max() <= 1
    native = nib.load(tmp_path / "c" / "lesion_mask.nii.gz")
    assert native.shape == nib.load(case).shape


def test_isla_predict_command_takes_the_patch_step(searched, tmp_path):
    workspace, name, model = searched
    images = Path(workspace.env["nnUNet_raw"]) / name / "imagesTs"
    case = sorted(images.glob("*_0000.nii.gz"))[0]
    adc = case.with_name(case.name.replace("_0000", "_0001"))
    workspace.run("isla", "predict", "--dwi", case, "--adc", adc, "-m", model, "-o", tmp_path / "out",
                  "--patch-step", "16", "48", "48", "--device", "cpu")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["models"][0]["inference"]["step_zyx"] == [16, 48, 48]
    with pytest.raises(ISLAError, match="patch model"):
        workspace.run("isla", "predict", "--dwi", case, "--adc", adc, "-m", model, "-o", tmp_path / "tta",
                      "--tta", "--device", "cpu")
