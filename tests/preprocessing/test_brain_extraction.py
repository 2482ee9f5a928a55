"""Brain extraction backends: auto detection, built-in template method, user mask, external tools."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.io import NativeCase
from isla_nnunet.preprocessing import external_brain, extract_brain, is_skull_stripped, resolve_method

from .synthetic import make_case, rigid


def _case(dwi: sitk.Image) -> NativeCase:
    return NativeCase("synthetic", dwi, dwi, None, 1e-6, "file")


def _with_head(images, seed=0, scalp=0.15) -> sitk.Image:
    """Add dark skull (noise) and a scalp shell (``scalp`` x the brain's median) around the brain, as an
    unstripped b1000 trace shows; the background stays exactly 0, as many scanners write it."""
    brain = sitk.Cast(images["brain"], sitk.sitkUInt8)
    radius = [max(1, int(round(12.0 / s))) for s in brain.GetSpacing()]
    head = sitk.GetArrayFromImage(sitk.BinaryDilate(brain, radius)) > 0
    skull = sitk.GetArrayFromImage(sitk.BinaryDilate(brain, [max(1, r // 2) for r in radius])) > 0
    dwi = sitk.GetArrayFromImage(images["dwi"])
    level = np.median(dwi[dwi > 0])
    rng = np.random.default_rng(seed)
    dwi = dwi + (head & ~skull) * level * scalp * (1 + 0.3 * rng.standard_normal(dwi.shape))
    dwi = dwi + (skull & ~(dwi > 0)) * level * 0.02 * (1 + rng.random(dwi.shape))
    out = sitk.GetImageFromArray(np.clip(dwi, 0, None).astype(np.float32))
    out.CopyInformation(images["dwi"])
    return out


@pytest.fixture(scope="module")
def images():
    return make_case(rigid((4.0, 0.0, -6.0), (5.0, -8.0, 3.0)))


def _dice(a, b) -> float:
    a, b = np.asarray(a) > 0, np.asarray(b) > 0
    return 2 * (a & b).sum() / (a.sum() + b.sum())


def test_stripped_input_detected_and_kept(images):
    case = _case(images["dwi"])
    assert is_skull_stripped(case.dwi) and resolve_method(case, "auto") == "stripped"
    mask = extract_brain(case, "auto")
    assert _dice(sitk.GetArrayFromImage(mask), sitk.GetArrayFromImage(images["brain"])) > 0.97


@pytest.mark.parametrize("scalp", [0.15, 0.45])
def test_head_detected_and_template_method_finds_the_brain(images, scalp):
    # 0.45: a scalp bright enough that its edge looks like cut cortex; the dark skull beneath gives it away.
    case = _case(_with_head(images, scalp=scalp))
    assert not is_skull_stripped(case.dwi) and resolve_method(case, "auto") == "template"
    mask = extract_brain(case, "auto")
    assert _dice(sitk.GetArrayFromImage(mask), sitk.GetArrayFromImage(images["brain"])) > 0.85


def test_user_mask(images, tmp_path):
    sitk.WriteImage(images["brain"], str(tmp_path / "brain.nii.gz"))
    case = _case(images["dwi"])
    assert resolve_method(case, str(tmp_path / "brain.nii.gz")) == str(tmp_path / "brain.nii.gz")
    mask = extract_brain(case, tmp_path / "brain.nii.gz")
    np.testing.assert_array_equal(sitk.GetArrayFromImage(mask), sitk.GetArrayFromImage(images["brain"]))


def test_empty_user_mask_refused(images, tmp_path):
    empty = sitk.Image(images["brain"]) * 0
    sitk.WriteImage(empty, str(tmp_path / "empty.nii.gz"))
    with pytest.raises(ISLAError, match="found no brain"):
        extract_brain(_case(images["dwi"]), tmp_path / "empty.nii.gz")


def test_unknown_method_refused(images):
    with pytest.raises(ISLAError, match="neither a method") as err:
        extract_brain(_case(images["dwi"]), "bet2")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("method, missing", [("synthstrip", "mri_synthstrip"), ("hd-bet", "hd-bet")])
def test_external_tool_missing(images, monkeypatch, method, missing):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ISLAError, match=f"no {missing} on PATH"):
        extract_brain(_case(images["dwi"]), method)


def test_external_weights_missing(images, monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: f"/opt/bin/{name}")
    monkeypatch.setenv("ISLA_SYNTHSTRIP_MODEL", str(tmp_path / "synthstrip.1.pt"))
    with pytest.raises(ISLAError, match="SynthStrip weights not found at .*synthstrip.1.pt"):
        extract_brain(_case(images["dwi"]), "synthstrip")
    monkeypatch.setenv("ISLA_HDBET_PARAMS", str(tmp_path / "hd-bet_params"))
    with pytest.raises(ISLAError, match="HD-BET weights not found in .*hd-bet_params"):
        external_brain.run_external("hd-bet", images["dwi"])


def test_real_soop_head_gets_the_template_method(soop):
    assert soop.method == "template"
    brain = sitk.GetArrayFromImage(soop.brain) > 0
    lesion = sitk.GetArrayFromImage(soop.lesion) > 0
    volume_ml = brain.sum() * np.prod(soop.case.dwi.GetSpacing()) / 1000
    assert 1000 < volume_ml < 1700  # measured 1287 ml
    assert (brain & lesion).sum() / lesion.sum() > 0.99  # the lesion is not cut away


def test_real_isles_is_detected_as_stripped(isles):
    assert isles.method == "stripped"


@pytest.mark.parametrize("domain, stripped", [("source", True), ("isles22-like", True), ("soop-like", False)])
def test_simulated_heads_and_stripped_brains_told_apart(domain, stripped):
    from isla_nnunet.simulation import simulate_case

    case = simulate_case(11, domain, pattern="none")
    assert case.acquisition.skull_stripped is stripped
    dwi = sitk.GetImageFromArray(np.ascontiguousarray(case.dwi.transpose(2, 1, 0)).astype(np.float32))
    dwi.SetSpacing([float(v) for v in np.linalg.norm(case.affine[:3, :3], axis=0)])
    assert is_skull_stripped(dwi) is stripped
