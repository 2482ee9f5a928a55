"""The model shipped in the package: its files, its checkpoint format, and that it segments out of the box."""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest
import torch

from isla_nnunet.errors import ISLAError
from isla_nnunet.evaluation import evaluate_files
from isla_nnunet.nnunet import commands as nnunet_cli
from isla_nnunet.prediction.shipped import (
    FIGURES_FILE,
    PREDICTION_KEYS,
    SHIPPED_ROOT,
    is_shipped,
    pack_model,
    sha256,
    shipped_model_folder,
    slim_checkpoint,
)


def _checkpoint():
    return shipped_model_folder() / "fold_0" / "checkpoint_final.pth"


def test_the_package_holds_exactly_one_model_with_its_figures():
    folder = shipped_model_folder()
    assert folder.parent == SHIPPED_ROOT and is_shipped(folder)
    assert (folder / "plans.json").is_file() and (folder / "dataset.json").is_file()
    figures = json.loads((SHIPPED_ROOT / FIGURES_FILE).read_text())
    assert figures["model"]["folder"] == folder.name
    assert figures["model"]["sha256"] == sha256(_checkpoint())


def test_shipped_checkpoint_is_plain_tensors_in_float16():
    state = torch.load(_checkpoint(), map_location="cpu", weights_only=True)
    assert set(state) == set(PREDICTION_KEYS)
    assert state["trainer_name"] == shipped_model_folder().name.split("__")[0]
    floats = [t for t in state["network_weights"].values() if t.is_floating_point()]
    assert floats and all(t.dtype == torch.float16 for t in floats)
    figures = json.loads((SHIPPED_ROOT / FIGURES_FILE).read_text())
    assert sum(t.numel() for t in state["network_weights"].values()) == figures["model"]["parameters"]


def test_slim_checkpoint_keeps_what_prediction_reads():
    full = {"network_weights": {"w": torch.tensor([1.0, 0.1]), "n": torch.tensor([3])},
            "trainer_name": "T", "init_args": {"configuration": "3d_fullres", "fold": np.int64(0)},
            "inference_allowed_mirroring_axes": (0, 1, 2), "current_epoch": np.int64(10),
            "optimizer_state": {"big": torch.zeros(100)}, "logging": {}}
    slim = slim_checkpoint(full)
    assert set(slim) == set(PREDICTION_KEYS)
    assert slim["network_weights"]["w"].dtype == torch.float16
    assert slim["network_weights"]["w"].tolist() == pytest.approx([1.0, 0.1], abs=1e-4)
    assert slim["network_weights"]["n"].dtype == torch.int64
    assert type(slim["current_epoch"]) is int and type(slim["init_args"]["fold"]) is int


def test_slim_checkpoint_refuses_a_checkpoint_without_weights():
    with pytest.raises(ISLAError, match="checkpoint lacks network_weights"):
        slim_checkpoint({"trainer_name": "T", "init_args": {}, "inference_allowed_mirroring_axes": (),
                         "current_epoch": 1})


def test_missing_shipped_model_says_how_to_fix(tmp_path):
    with pytest.raises(ISLAError, match="shipped model is missing .* reinstall isla-nnunet, or pass -m"):
        shipped_model_folder(tmp_path)


def test_packing_the_shipped_model_again_reproduces_its_weights(tmp_path):
    (tmp_path / "old_model" / "fold_0").mkdir(parents=True)
    packed = pack_model(shipped_model_folder(), tmp_path)
    assert not (tmp_path / "old_model").exists() and shipped_model_folder(tmp_path) == packed
    original = torch.load(_checkpoint(), weights_only=True)["network_weights"]
    again = torch.load(packed / "fold_0" / "checkpoint_final.pth", weights_only=True)["network_weights"]
    assert original.keys() == again.keys()
    assert all(torch.equal(original[k], again[k]) for k in original)


@pytest.mark.slow
def test_isla_predict_without_a_model_segments_a_simulated_scan(tmp_path):
    """A fresh shell, no nnU-Net variables, no -m: the shipped model finds the simulated lesion."""
    from isla_nnunet.simulation import simulate_case, write_native_case

    case = write_native_case(simulate_case(11, "source", pattern="single", volume_ml=20.0), tmp_path, "sim11")
    env = {k: v for k, v in os.environ.items() if not k.startswith("nnUNet_")}
    out = tmp_path / "out"
    run = subprocess.run([nnunet_cli.executable("isla"), "predict", "--dwi", str(case["dwi"]), "--adc",
                          str(case["adc"]), "-o", str(out), "--device", "cpu"],
                         env=env, capture_output=True, encoding="utf-8", errors="replace", timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"no -m given: using the shipped model {shipped_model_folder().name}")
    assert run.stdout.splitlines()[1].startswith("sim11_dwi: lesion ")
    assert "the shipped model in" in run.stdout.splitlines()[1]
    report = json.loads((out / "report.json").read_text())
    assert report["models"][0]["shipped"] is True
    scores = evaluate_files(out / "lesion_mask.nii.gz", case["msk"])
    # Measured 2026-12-02: see docs/model_card.md; the floor leaves room for bf16/thread differences.
    assert scores["dice"] > 0.6, scores


@pytest.mark.slow
def test_nnunet_predicts_with_the_shipped_model_folder(tmp_path):
    """nnU-Net's own loader reads the float16 checkpoint; its mask of a reference-grid case is good."""
    from isla_nnunet.simulation import write_nnunet_dataset

    # Seed 29's test case holds a 7.7 ml mixed infarct (4 components): a Dice floor means something there,
    # where on a lesion-free case any speck scores 0 (measured 2026-12-07: Dice 0.82, lesion F1 0.89).
    write_nnunet_dataset(tmp_path / "raw", 999, "Shipped", 1, 1, "source", seed=29)
    raw = tmp_path / "raw" / "Dataset999_Shipped"
    out = tmp_path / "pred"
    run = subprocess.run([nnunet_cli.executable("nnUNetv2_predict_from_modelfolder"), "-i", str(raw / "imagesTs"),
                          "-o", str(out), "-m", str(shipped_model_folder()), "-f", "0", "-device", "cpu",
                          "--disable_tta", "-npp", "1", "-nps", "1"],
                         env=nnunet_cli.nnunet_environment(tmp_path / "nnunet"), capture_output=True,
                         encoding="utf-8", errors="replace", timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    (label,) = sorted((raw / "labelsTs").glob("*.nii.gz"))
    scores = evaluate_files(out / label.name, label)
    assert scores["dice"] > 0.6, scores


@pytest.mark.slow
def test_the_adc_check_removes_false_positives_of_the_shipped_model_on_isles22_case_0009(shared_data, tmp_path):
    """On ISLES'22 0009 most of the shipped model's false positives lie where the ADC is not restricted;
    ``--adc-check`` removes them and keeps the expert-marked lesions it found."""
    from isla_nnunet.cli import main
    from isla_nnunet.prediction.model_card import REAL_CASE_FILES

    dwi, adc, truth = (shared_data / f for f in REAL_CASE_FILES["isles22_0009"])
    outputs = {}
    for name, extra in (("plain", []), ("checked", ["--adc-check"])):
        outputs[name] = tmp_path / name
        assert main(["predict", "--dwi", str(dwi), "--adc", str(adc), "-o", str(outputs[name]), "--device", "cpu",
                     *extra]) == 0
    plain, checked = (evaluate_files(outputs[n] / "lesion_mask.nii.gz", truth) for n in ("plain", "checked"))
    entry = json.loads((outputs["checked"] / "report.json").read_text())["prediction"]["adc_check"]
    assert entry["removed"] and min(r["adc_ratio"] for r in entry["removed"]) >= 1.0
    # Measured 2026-12-07 with the stage-7 model: Dice 0.209 -> 0.405, lesion F1 0.290 -> 0.429.
    assert checked["dice"] > plain["dice"] + 0.1, (plain, checked)
    assert checked["lesion_f1"] > plain["lesion_f1"] + 0.05, (plain, checked)
    assert checked["recall"] >= plain["recall"] - 0.02, (plain, checked)   # the expert lesions stay
