"""One case through the whole pipeline with a stand-in model whose answer is known in reference space.

The stand-in returns a ball of probability 0.9 on the reference grid; a rigid mapping keeps its volume
and sends its centre to the native point the saved transform gives, which the outputs must show.
"""

from __future__ import annotations

import json

import cc3d
import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet import reference
from isla_nnunet.conversion.cases import CaseSpec
from isla_nnunet.errors import ISLAError
from isla_nnunet.io.geometry import ras_affine
from isla_nnunet.prediction.pipeline import (
    MASK,
    MNI_FILES,
    PROBABILITY,
    REFERENCE_FILES,
    PredictionSettings,
    check_outdir,
    predict_case,
)
from isla_nnunet.preprocessing.registration import Registration

from .helpers import BALL_CENTRE_LPS, BALL_PROBABILITY, BallModel, geometry, model_set, reference_ball

STABLE_FILES = {"lesion_mask.nii.gz", "lesion_probability.nii.gz", "lesions.csv", "report.json", "qc.png",
                "transform.json"}


@pytest.fixture(scope="module")
def predicted(native_case, tmp_path_factory):
    """The native case predicted with the ball model, the brain mask given as a file."""
    spec = CaseSpec("sim5", str(native_case["dwi"]), adc=str(native_case["adc"]),
                    brain=str(native_case["brainmask"]), role="test")
    model = BallModel()
    outdir = tmp_path_factory.mktemp("pred") / "sim5"
    result = predict_case(spec, model_set(model), outdir, PredictionSettings(save_reference=True, save_mni=True))
    return result, model, native_case


def test_outputs_have_stable_names_and_nothing_else(predicted):
    result, _, _ = predicted
    names = {p.name for p in result.outdir.iterdir()}
    assert names == STABLE_FILES | set(REFERENCE_FILES) | set(MNI_FILES)
    assert [p.name for p in result.outdir.parent.iterdir()] == ["sim5"]   # no staging folder left


def test_native_outputs_have_the_exact_dwi_grid(predicted):
    result, _, files = predicted
    dwi = sitk.ReadImage(str(files["dwi"]))
    for name in (MASK, PROBABILITY):
        image = sitk.ReadImage(str(result.outdir / name))
        assert geometry(image) == geometry(dwi)
    mask = sitk.ReadImage(str(result.outdir / MASK))
    assert mask.GetPixelID() == sitk.sitkUInt8
    assert set(np.unique(sitk.GetArrayViewFromImage(mask)).tolist()) == {0, 1}


def test_the_model_saw_the_reference_channels(predicted):
    result, model, _ = predicted
    (channels,) = model.calls
    assert channels.shape == (2, *reference.SHAPE_ZYX) and channels.dtype == np.float32
    dwi_ref = sitk.GetArrayFromImage(sitk.ReadImage(str(result.outdir / "dwi_reference.nii.gz")))
    np.testing.assert_array_equal(channels[0], dwi_ref)
    # Zero outside the brain, ADC in 1e-6 mm^2/s: brain tissue lies around 700-1000.
    brain = channels[0] > 0
    assert not channels[1][~brain].any()
    assert 400 < np.median(channels[1][brain]) < 1500


def test_mask_volume_and_position_follow_the_rigid_mapping(predicted):
    result, _, _ = predicted
    report = result.report
    mask = sitk.ReadImage(str(result.outdir / MASK))
    array = sitk.GetArrayFromImage(mask)
    voxel_ml = float(np.prod(mask.GetSpacing())) / 1000.0
    reference_ml = reference_ball().sum() * float(np.prod(reference.SPACING_XYZ)) / 1000.0
    assert report["reference_grid"]["lesion_volume_ml"] == pytest.approx(reference_ml)
    # A rigid mapping keeps volumes; the 6 mm reference slices cost some accuracy at the ball's poles.
    assert array.sum() * voxel_ml == pytest.approx(reference_ml, rel=0.1)
    # The ball's centre, sent through the saved transform (reference -> native), is the lesion centroid.
    registration = Registration.load(result.outdir / "transform.json")
    expected_lps = np.asarray(registration.transform.TransformPoint(BALL_CENTRE_LPS))
    (lesion,) = report["lesion"]["lesions"]
    centroid_lps = np.diag([-1.0, -1.0, 1.0]) @ np.asarray(lesion["centroid_ras_mm"])
    assert np.linalg.norm(centroid_lps - expected_lps) < 1.5
    affine = ras_affine(mask)
    voxel = np.asarray(lesion["centroid_voxel_xyz"])
    np.testing.assert_allclose(affine[:3, :3] @ voxel + affine[:3, 3], lesion["centroid_ras_mm"], atol=1e-2)


def test_mni_outputs_put_the_ball_at_its_mni_position_with_the_native_volume(predicted):
    result, _, _ = predicted
    mask, probability = (sitk.ReadImage(str(result.outdir / name)) for name in MNI_FILES)
    assert mask.GetSize() == probability.GetSize() == (197, 233, 189) and mask.GetSpacing() == (1.0, 1.0, 1.0)
    assert set(result.report["outputs"]) >= set(MNI_FILES)
    array = sitk.GetArrayFromImage(mask)
    # The reference frame is MNI152's, so the ball comes back where the stand-in model put it.
    centroid = mask.TransformContinuousIndexToPhysicalPoint(np.argwhere(array)[:, ::-1].mean(axis=0).tolist())
    assert np.linalg.norm(np.asarray(centroid) - BALL_CENTRE_LPS) < 2.0
    native = sitk.ReadImage(str(result.outdir / MASK))
    native_ml = sitk.GetArrayViewFromImage(native).sum() * np.prod(native.GetSpacing()) / 1000
    assert array.sum() / 1000 == pytest.approx(native_ml, rel=0.05)
    assert sitk.GetArrayViewFromImage(probability).max() == pytest.approx(BALL_PROBABILITY, abs=1e-4)


def test_report_agrees_with_the_written_files(predicted, native_case):
    result, _, files = predicted
    report = json.loads((result.outdir / "report.json").read_text())
    assert report == json.loads(json.dumps(result.report))
    mask = sitk.GetArrayFromImage(sitk.ReadImage(str(result.outdir / MASK)))
    probability = sitk.GetArrayFromImage(sitk.ReadImage(str(result.outdir / PROBABILITY)))
    spacing = sitk.ReadImage(str(files["dwi"])).GetSpacing()
    voxel_ml = float(np.prod(spacing)) / 1000.0
    lesion = report["lesion"]
    assert lesion["count"] == cc3d.connected_components(mask, connectivity=26, return_N=True)[1] == 1
    assert lesion["total_volume_ml"] == pytest.approx(mask.sum() * voxel_ml)
    assert lesion["stroke_pattern"] == "single vessel infarct"
    assert lesion["lesions"][0]["max_probability"] == pytest.approx(BALL_PROBABILITY, abs=1e-5)
    assert probability.max() == pytest.approx(BALL_PROBABILITY, abs=1e-5) and probability.min() >= 0.0
    brain = sitk.GetArrayFromImage(sitk.ReadImage(str(native_case["brainmask"])))
    assert report["brain"]["volume_ml"] == pytest.approx((brain > 0).sum() * voxel_ml)
    assert report["brain"]["method"] == str(native_case["brainmask"])
    assert report["ensemble"] == {"method": "single", "rule": "probability > 0.5", "members": 1}
    assert set(report["timings_s"]) >= {"read", "brain_extraction", "registration", "to_reference", "model_1",
                                        "ensemble", "to_native", "write", "qc_png", "total"}
    assert report["registration"]["qc_flagged"] is False
    assert report["input"]["adc_source_unit"] == "1e-3 mm^2/s"
    lines = (result.outdir / "lesions.csv").read_text().splitlines()
    assert len(lines) == 2 and lines[1].startswith("1,")


def test_vote_of_three_models_in_reference_space(native_case, tmp_path):
    # Three balls: A and B overlap, C lies elsewhere; two votes of three are needed, so only A∩B stays.
    a = BallModel("a", (-25.0, -10.0, 25.0), 12.0, 0.8)
    b = BallModel("b", (-20.0, -10.0, 25.0), 12.0, 0.8)
    c = BallModel("c", (25.0, 0.0, 25.0), 12.0, 0.8)
    spec = CaseSpec("sim5", str(native_case["dwi"]), adc=str(native_case["adc"]),
                    brain=str(native_case["brainmask"]), role="test")
    vote = predict_case(spec, model_set(a, b, c), tmp_path / "vote", PredictionSettings(ensemble="vote"))
    expected = (a.map > 0.5).astype(int) + (b.map > 0.5) + (c.map > 0.5) >= 2
    np.testing.assert_array_equal(vote.reference_mask, expected)
    # The probability beside a voted mask is the members' mean.
    np.testing.assert_allclose(vote.reference_probability, (a.map + b.map + c.map) / 3, atol=1e-6)
    assert vote.report["ensemble"]["method"] == "vote" and vote.report["lesion"]["count"] == 1


def test_existing_output_is_refused_then_written_with_overwrite_keeping_other_files(native_case, tmp_path):
    outdir = tmp_path / "out"
    outdir.mkdir()
    (outdir / "old.txt").write_text("keep me")
    spec = CaseSpec("sim5", str(native_case["dwi"]), adc=str(native_case["adc"]),
                    brain=str(native_case["brainmask"]), role="test")
    with pytest.raises(ISLAError, match="already exists"):
        predict_case(spec, model_set(BallModel()), outdir)
    assert [p.name for p in outdir.iterdir()] == ["old.txt"]
    predict_case(spec, model_set(BallModel()), outdir, PredictionSettings(overwrite=True))
    assert {p.name for p in outdir.iterdir()} == STABLE_FILES | {"old.txt"}
    assert (outdir / "old.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_check_outdir(tmp_path):
    assert check_outdir(tmp_path / "new", False) == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    check_outdir(tmp_path / "empty", False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ISLAError, match="is not a folder"):
        check_outdir(tmp_path / "file", True)


def test_a_model_reading_symmetric_channels_gets_the_mirrored_dwi_and_adc(native_case, tmp_path):
    from isla_nnunet.preprocessing.symmetry import symmetric_versions

    plain, mirrored = BallModel("plain"), BallModel("sym", input_channels=4)
    spec = CaseSpec("sim5", str(native_case["dwi"]), adc=str(native_case["adc"]),
                    brain=str(native_case["brainmask"]), role="test")
    result = predict_case(spec, model_set(plain, mirrored), tmp_path / "sym", PredictionSettings(save_reference=True))
    (channels,) = mirrored.calls
    assert channels.shape == (4, *reference.SHAPE_ZYX)
    # one stack for every model; each reads its first input_channels (LoadedModel.lesion_probability)
    np.testing.assert_array_equal(channels, plain.calls[0])
    # channels 2 and 3 are what isla add-symmetric-channels writes for the reference images (up to the
    # registration's multi-threaded rounding: a small fraction of the intensity)
    written = [sitk.ReadImage(str(result.outdir / name)) for name in ("dwi_reference.nii.gz", "adc_reference.nii.gz")]
    expected = np.stack([sitk.GetArrayFromImage(image) for image in symmetric_versions(written)[0]])
    for got, want in zip(channels[2:], expected, strict=True):
        assert np.abs(got - want).sum() < 0.02 * np.abs(want).sum()
    # and they are mirror images: the left-right flip of the DWI lies close to channel 2
    flipped = channels[0][:, :, ::-1]
    brain = flipped > 0
    assert np.corrcoef(flipped[brain], channels[2][brain])[0, 1] > 0.9
    assert "symmetric_channels" in result.report["timings_s"]
