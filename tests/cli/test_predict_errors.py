"""``isla predict`` with bad inputs: one line on stderr, exit status 2, and nothing written.

The model folders here pass the file checks but hold empty checkpoints, so every case below must be
refused before any network loads (except the last, which is about the checkpoint itself).
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from prediction.helpers import write_model_folder

from isla_nnunet.cli import main


@pytest.fixture
def setup(native_case, tmp_path):
    """(files, model folder, output folder inside a parent that must stay absent)."""
    models = tmp_path / "models"
    model = write_model_folder(models)
    return native_case, model, tmp_path / "results" / "case"


def _refused(capsys, argv, message, results):
    status = main(["predict", *map(str, argv)])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err.startswith("isla predict: error: ") and "\n" not in err, err
    assert message in err, err
    assert not results.parent.exists() or not any(results.parent.iterdir()), "something was written"
    return err


def _write_like(reference: sitk.Image, array: np.ndarray, path, origin_shift=(0.0, 0.0, 0.0)) -> str:
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(reference)
    image.SetOrigin([o + s for o, s in zip(reference.GetOrigin(), origin_shift, strict=True)])
    sitk.WriteImage(image, str(path))
    return str(path)


def test_missing_adc(setup, capsys):
    files, model, out = setup
    _refused(capsys, ["--dwi", files["dwi"], "-m", model, "-o", out], "no ADC for sim5_dwi.nii.gz", out)


def test_missing_dwi_file(setup, capsys, tmp_path):
    files, model, out = setup
    _refused(capsys, ["--dwi", tmp_path / "nope.nii.gz", "--adc", files["adc"], "-m", model, "-o", out],
             "does not exist", out)


def test_adc_from_another_scan(setup, capsys, tmp_path):
    files, model, out = setup
    adc = sitk.ReadImage(str(files["adc"]))
    moved = _write_like(adc, sitk.GetArrayFromImage(adc), tmp_path / "moved_adc.nii.gz", (0.0, 0.0, 400.0))
    _refused(capsys, ["--dwi", files["dwi"], "--adc", moved, "-m", model, "-o", out],
             "covers 0% of the DWI field of view", out)


def test_four_d_dwi_without_b_values(setup, capsys, tmp_path):
    files, model, out = setup
    dwi = sitk.ReadImage(str(files["dwi"]))
    series = sitk.JoinSeries([dwi, dwi, dwi])
    path = tmp_path / "dwi4d.nii.gz"
    sitk.WriteImage(series, str(path))
    _refused(capsys, ["--dwi", path, "--adc", files["adc"], "-m", model, "-o", out],
             "holds 3 volumes but their b-values are unknown", out)


def test_nan_adc(setup, capsys, tmp_path):
    # MetaImage keeps NaN (ITK's NIfTI reader turns NaN into 0); an ADC without any finite value is refused.
    files, model, out = setup
    adc = sitk.ReadImage(str(files["adc"]))
    nan = _write_like(adc, np.full(sitk.GetArrayViewFromImage(adc).shape, np.nan, np.float32),
                      tmp_path / "adc.mha")
    _refused(capsys, ["--dwi", files["dwi"], "--adc", nan, "-m", model, "-o", out], "no positive values", out)


def test_unknown_model_folder(setup, capsys, tmp_path):
    files, _, out = setup
    _refused(capsys, ["--dwi", files["dwi"], "--adc", files["adc"], "-m", tmp_path / "no_model", "-o", out],
             "does not exist: give an nnU-Net trained-model folder", out)


def test_model_with_other_channels(setup, capsys, tmp_path):
    files, _, out = setup
    model = write_model_folder(tmp_path / "other", channels=("T1", "FLAIR"))
    _refused(capsys, ["--dwi", files["dwi"], "--adc", files["adc"], "-m", model, "-o", out],
             "reads the channels ['T1', 'FLAIR'], not ['DWI', 'ADC']", out)


def test_model_planned_for_another_grid(setup, capsys, tmp_path):
    files, _, out = setup
    model = write_model_folder(tmp_path / "iso", spacing=(1.0, 1.0, 1.0), patch=(128, 128, 128))
    _refused(capsys, ["--dwi", files["dwi"], "--adc", files["adc"], "-m", model, "-o", out],
             "was planned for 1 x 1 x 1 mm voxels", out)


def test_second_ensemble_member_is_checked_too(setup, capsys, tmp_path):
    files, model, out = setup
    other = write_model_folder(tmp_path / "other", channels=("DWI",))
    _refused(capsys, ["--dwi", files["dwi"], "--adc", files["adc"], "-m", model, "-m", other, "-o", out],
             "reads the channels ['DWI']", out)


def test_existing_output_without_overwrite(setup, capsys):
    files, model, out = setup
    out.mkdir(parents=True)
    (out / "report.json").write_text("{}")
    status = main(["predict", "--dwi", str(files["dwi"]), "--adc", str(files["adc"]), "-m", str(model),
                   "-o", str(out)])
    err = capsys.readouterr().err.strip()
    assert status == 2 and "already exists: give another -o, or --overwrite" in err and "\n" not in err
    assert [p.name for p in out.iterdir()] == ["report.json"] and (out / "report.json").read_text() == "{}"


def test_unknown_brain_method(setup, capsys):
    files, model, out = setup
    _refused(capsys, ["--dwi", files["dwi"], "--adc", files["adc"], "-m", model, "-o", out, "--brain", "bet"],
             "is neither a method", out)


@pytest.mark.parametrize("extra, message", [
    ([], "give either --dwi (one case) or -i/--input"),
    (["--dwi", "a.nii.gz", "-i", "cases.csv"], "give either --dwi (one case) or -i/--input"),
    (["-i", "cases.csv", "--adc", "a.nii.gz"], "describe one case"),
])
def test_one_case_or_a_batch(setup, capsys, extra, message):
    _, model, out = setup
    _refused(capsys, [*extra, "-m", model, "-o", out], message, out)


def test_unreadable_checkpoint(setup, capsys):
    files, model, out = setup   # its checkpoint is an empty file
    err = _refused(capsys, ["--dwi", files["dwi"], "--adc", files["adc"], "-m", model, "-o", out,
                            "--device", "cpu"], "cannot read checkpoint", out)
    assert f"{model}/" in err and "damaged" in err


def test_corrupt_zip(setup, capsys, tmp_path):
    files, _, out = setup
    archive = tmp_path / "model.zip"
    archive.write_bytes(b"PK\x03\x04 truncated")
    _refused(capsys, ["--dwi", files["dwi"], "--adc", files["adc"], "-m", archive, "-o", out,
                      "--device", "cpu"], "cannot unpack model", out)
