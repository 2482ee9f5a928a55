"""``isla predict`` with ISLA models trained in this test session (tests/conftest.py), and on real scans.

Slow: the shared fixtures train two tiny models with the stock ``nnUNetv2_train`` (about a minute each
on 2 CPU cores, shared with other test modules); the tests themselves take about two minutes.
"""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet.cli import main
from isla_nnunet.conversion import CaseSpec
from isla_nnunet.evaluation import lesion_count, volume_ml
from isla_nnunet.nnunet import commands as nnunet_cli
from isla_nnunet.prediction.models import ModelSet
from isla_nnunet.prediction.pipeline import PredictionSettings, predict_case

from .helpers import geometry

pytestmark = pytest.mark.slow

SECOND_TRAINER = "ISLATrainer_UFL_Std_DS_NoAtt_1epoch"


@pytest.fixture(scope="module")
def second_model(tiny_workspace):
    return tiny_workspace.train(SECOND_TRAINER)


def _spec(files, case_id="sim5"):
    return CaseSpec(case_id, str(files["dwi"]), adc=str(files["adc"]), brain=str(files["brainmask"]),
                    role="test")


def _array(path):
    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


def _check_mask_is_thresholded_probability(outdir):
    """Native mask = native probability > 0.5, plus at most one voxel per reference-space lesion that the
    > 0.5 rule would lose (the project's small-lesion rule)."""
    mask = _array(outdir / "lesion_mask.nii.gz").astype(bool)
    above = _array(outdir / "lesion_probability.nii.gz") > 0.5
    assert np.all(mask[above])
    reference_lesions = lesion_count(_array(outdir / "lesion_mask_reference.nii.gz"))
    assert np.count_nonzero(mask & ~above) <= reference_lesions


def test_cli_predicts_a_native_case_without_nnunet_variables(trained_isla_model, native_case, tmp_path):
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("nnUNet_")}
    run = subprocess.run([nnunet_cli.executable("isla"), "predict", "--dwi", str(native_case["dwi"]),
                          "--adc", str(native_case["adc"]), "-m", str(trained_isla_model), "-o", str(out),
                          "--device", "cpu", "--save-reference", "--save-mni"],
                         env=env, capture_output=True, encoding="utf-8", errors="replace", timeout=600)
    assert run.returncode == 0, run.stderr
    first = run.stdout.splitlines()[0]
    assert first.startswith("sim5_dwi: lesion ") and first.endswith(f"-> {out}")
    dwi = sitk.ReadImage(str(native_case["dwi"]))
    for name in ("lesion_mask.nii.gz", "lesion_probability.nii.gz"):
        assert geometry(sitk.ReadImage(str(out / name))) == geometry(dwi)
    mask = _array(out / "lesion_mask.nii.gz")
    report = json.loads((out / "report.json").read_text())
    spacing_zyx = dwi.GetSpacing()[::-1]
    assert report["lesion"]["count"] == lesion_count(mask)
    assert report["lesion"]["total_volume_ml"] == pytest.approx(volume_ml(mask, spacing_zyx))
    assert [m["trainer"] for m in report["models"]] == ["ISLATrainer_B_1epoch"]
    assert report["models"][0]["folds"] == [0] and report["prediction"]["test_time_mirroring"] is False
    assert report["brain"]["method"] == "stripped"
    _check_mask_is_thresholded_probability(out)
    reference_mask = _array(out / "lesion_mask_reference.nii.gz")
    reference_probability = _array(out / "lesion_probability_reference.nii.gz")
    np.testing.assert_array_equal(reference_mask, reference_probability > 0.5)
    mni_mask = sitk.ReadImage(str(out / "lesion_mask_mni.nii.gz"))
    assert mni_mask.GetSize() == (197, 233, 189) and mni_mask.GetSpacing() == (1.0, 1.0, 1.0)
    # Rigid: the MNI mask (1 mm voxels) holds the native volume.
    assert sitk.GetArrayViewFromImage(mni_mask).sum() / 1000 == pytest.approx(
        report["lesion"]["total_volume_ml"], rel=0.1, abs=0.05)


def test_ensemble_of_two_models_is_the_mean_of_their_probabilities(trained_isla_model, second_model,
                                                                   native_case, tmp_path):
    with ModelSet.load([trained_isla_model, second_model], device="cpu") as models:
        settings = PredictionSettings(save_reference=True)
        result = predict_case(_spec(native_case), models, tmp_path / "ens", settings)
        a, b = result.member_probabilities
        assert np.abs(a - b).max() > 1e-3, "the two models must differ for this test to mean anything"
        mean = ((a.astype(np.float64) + b) / 2).astype(np.float32)
        np.testing.assert_array_equal(result.reference_probability, mean)
        np.testing.assert_array_equal(result.reference_mask, mean > 0.5)
        # Each member is what that model predicts alone on the same reference-space channels.
        channels = np.stack([_array(tmp_path / "ens" / "dwi_reference.nii.gz"),
                             _array(tmp_path / "ens" / "adc_reference.nii.gz")])
        np.testing.assert_allclose(models[0].lesion_probability(channels), a, atol=1e-6)
    with ModelSet.load([second_model], device="cpu") as alone:
        np.testing.assert_allclose(alone[0].lesion_probability(channels), b, atol=1e-6)
    report = result.report
    assert report["ensemble"] == {"method": "mean", "rule": "mean probability > 0.5", "members": 2}
    assert [m["trainer"] for m in report["models"]] == ["ISLATrainer_B_1epoch", SECOND_TRAINER]
    _check_mask_is_thresholded_probability(tmp_path / "ens")


def test_exported_zip_predicts_like_its_folder(tiny_workspace, trained_isla_model, native_case, tmp_path):
    archive = tmp_path / "isla_b.zip"
    tiny_workspace.run("nnUNetv2_export_model_to_zip", "-d", tiny_workspace.dataset_id, "-o", archive,
                       "-c", "3d_fullres", "-tr", "ISLATrainer_B_1epoch", "-p", "ISLAPlans", "-f", "0")
    channels = np.zeros((2, 32, 224, 192), np.float32)
    rng = np.random.default_rng(0)
    channels[:, 8:24, 60:160, 50:140] = rng.uniform(100, 1000, (2, 16, 100, 90))
    with ModelSet.load([archive], device="cpu") as from_zip, \
            ModelSet.load([trained_isla_model], device="cpu") as from_folder:
        unpacked = from_zip[0].info.folder
        assert unpacked.is_dir() and from_zip[0].info.source == archive
        np.testing.assert_array_equal(from_zip[0].lesion_probability(channels),
                                      from_folder[0].lesion_probability(channels))
    assert not unpacked.exists()


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def test_tta_averages_the_logits_of_the_left_right_mirror(trained_isla_model):
    # Nonzero everywhere, so nnU-Net neither crops nor pads and the mirror is exact.
    channels = np.random.default_rng(1).uniform(50, 1000, (2, 32, 224, 192)).astype(np.float32)
    with ModelSet.load([trained_isla_model], device="cpu") as plain, \
            ModelSet.load([trained_isla_model], device="cpu", tta=True) as mirrored:
        p = plain[0].lesion_probability(channels).astype(np.float64)
        q = plain[0].lesion_probability(channels[..., ::-1].copy())[..., ::-1].astype(np.float64)
        tta = mirrored[0].lesion_probability(channels)
    # Two-class softmax of [0, z]: p = sigmoid(z); nnU-Net averages the logits of x and of the mirror.
    expected = 1 / (1 + np.exp(-(_logit(p) + _logit(q)) / 2))
    assert np.abs(p - q).max() > 1e-4, "a mirror-symmetric network would make this test meaningless"
    # nnU-Net accumulates logits in float16 (relative precision 1e-3).
    np.testing.assert_allclose(tta, expected, atol=1e-3)


def test_cli_batch_with_a_failing_case(trained_isla_model, native_case, tmp_path, capsys):
    table = tmp_path / "cases.csv"
    table.write_text("case_id,dwi,adc,brain_mask\n"
                     f"first,{native_case['dwi']},{native_case['adc']},{native_case['brainmask']}\n"
                     f"broken,{native_case['dwi']},,\n")
    status = main(["predict", "-i", str(table), "-m", str(trained_isla_model), "-o", str(tmp_path / "out"),
                   "--device", "cpu", "--no-progress"])
    out = capsys.readouterr().out
    assert status == 1
    assert "first: lesion " in out and "broken: FAILED: no ADC" in out
    assert "1 predicted, 0 skipped (already done), 1 failed" in out
    assert (tmp_path / "out" / "first" / "lesion_mask.nii.gz").exists()
    assert not (tmp_path / "out" / "broken").exists()


@pytest.mark.parametrize("case", ["soop", "isles22"])
def test_real_scans_end_to_end(shared_data, trained_isla_model, tmp_path, capsys, case):
    if case == "soop":
        dwi = shared_data / "soop" / "sub-3" / "sub-3_rec-TRACE_dwi.nii.gz"
        adc = shared_data / "soop" / "sub-3" / "sub-3_rec-ADC_dwi.nii.gz"
        brain_method = "template"
    else:
        dwi = shared_data / "isles22" / "sub-strokecase0009" / "sub-strokecase0009_ses-0001_dwi.nii.gz"
        adc = shared_data / "isles22" / "sub-strokecase0009" / "sub-strokecase0009_ses-0001_adc.nii.gz"
        brain_method = "stripped"
    out = tmp_path / case
    status = main(["predict", "--dwi", str(dwi), "--adc", str(adc), "-m", str(trained_isla_model),
                   "-o", str(out), "--device", "cpu"])
    assert status == 0, capsys.readouterr().err
    source = sitk.ReadImage(str(dwi))   # SOOP is 4-D with one volume: compare its 3-D part
    mask = sitk.ReadImage(str(out / "lesion_mask.nii.gz"))
    assert mask.GetSize() == source.GetSize()[:3]
    np.testing.assert_allclose(mask.GetSpacing(), source.GetSpacing()[:3], rtol=0, atol=1e-6)
    np.testing.assert_allclose(mask.GetOrigin(), source.GetOrigin()[:3], rtol=0, atol=1e-6)
    direction = np.asarray(source.GetDirection()).reshape(source.GetDimension(), -1)[:3, :3]
    np.testing.assert_allclose(np.asarray(mask.GetDirection()).reshape(3, 3), direction, atol=1e-6)
    report = json.loads((out / "report.json").read_text())
    assert report["brain"]["method"] == brain_method
    assert 900 < report["brain"]["volume_ml"] < 1900
    assert report["registration"]["qc_flagged"] is False
    assert report["lesion"]["count"] == lesion_count(sitk.GetArrayFromImage(mask))


def test_reference_probability_is_the_network_on_the_full_frame(trained_isla_model, tiny_workspace):
    # Independent of nnU-Net's predictor: z-score each channel over the non-zero voxels (nnU-Net's
    # ZScoreNormalization with the brain mask), zero outside, run the network once on the whole
    # 32 x 224 x 192 frame and take the softmax of the lesion class. A brain box placed off-centre makes
    # nnU-Net's own crop-and-pad shift the brain, which this must not do.
    import nibabel as nib
    import torch
    from scipy import ndimage

    case = sorted((tiny_workspace.raw / "imagesTs").glob("*_0000.nii.gz"))[0]
    channels = np.stack([np.asarray(nib.load(case.with_name(case.name.replace("_0000", f"_000{c}"))).dataobj,
                                    dtype=np.float32).transpose(2, 1, 0) for c in (0, 1)])
    channels = np.roll(channels, 12, axis=2)   # move the brain 12 voxels (10.8 mm) anteriorly in y
    channels[:, :, :12] = 0
    brain = ndimage.binary_fill_holes((channels != 0).any(axis=0))
    normalized = np.zeros_like(channels)
    for c in range(2):
        values = channels[c][brain]
        normalized[c][brain] = (values - values.mean()) / max(values.std(), 1e-8)
    with ModelSet.load([trained_isla_model], device="cpu") as models:
        probability = models[0].lesion_probability(channels)
        network = models[0].predictor.network
        network.load_state_dict(models[0].predictor.list_of_parameters[0])
        with torch.no_grad():
            expected = torch.softmax(network(torch.from_numpy(normalized)[None]), 1)[0, 1].numpy()
    # nnU-Net's predictor accumulates logits in float16 (relative precision 1e-3): in float32 arithmetic
    # that leaves a mean difference of 1.3e-5 to 1.5e-5 depending on the processor; a brain shifted by
    # the crop, the bug this guards against, gives a mean of 0.04 (the output rolled by 12 voxels).
    assert np.abs(probability - expected).max() < 1e-3
    assert np.abs(probability - expected).mean() < 5e-5
