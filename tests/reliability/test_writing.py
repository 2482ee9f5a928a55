"""Outputs that cannot be written fail before any work, and write failures during a run end in one
line with nothing half-written."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.io import images
from isla_nnunet.io.images import write_image
from isla_nnunet.io.writable import check_writable
from isla_nnunet.prediction import pipeline

from .helpers import refused

READ_ONLY = Path("/sys/isla-nnunet-test")  # /sys takes no new files, even from root


@pytest.fixture
def a_file(tmp_path) -> Path:
    path = tmp_path / "not_a_folder"
    path.write_text("x")
    return path


@pytest.mark.parametrize("command", [
    lambda case, out: ["predict", "--dwi", case["dwi"], "--adc", case["adc"], "-o", out],
    lambda case, out: ["predict", "-i", Path(case["dwi"]).parent, "-o", out],
    lambda case, out: ["convert", Path(case["dwi"]).parent, "-o", out / "Dataset955_X"],
    lambda case, out: ["evaluate", "--pred", case["msk"], "--gt", case["msk"], "-o", out / "metrics.csv"],
    lambda case, out: ["to-native", case["msk"], "-t", out / "transform.json", "-o", out / "x.nii.gz"],
    lambda case, out: ["simulate", out, "-n", "1"],
])
def test_output_under_a_file_is_refused_first(native_case, a_file, capsys, command):
    argv = [str(a) for a in command(native_case, a_file / "out")]
    err = refused(capsys, argv)
    assert f"{a_file} is a file, not a folder" in err


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs a read-only /sys")
def test_read_only_folder_is_refused_first(native_case, capsys):
    with pytest.raises(ISLAError, match="cannot write .*give an output path you can write to"):
        check_writable(READ_ONLY / "out")
    err = refused(capsys, ["predict", "--dwi", str(native_case["dwi"]), "--adc", str(native_case["adc"]),
                                   "-o", str(READ_ONLY / "out")])
    assert "cannot write" in err


def test_short_itk_write_is_an_error(tmp_path, monkeypatch):
    real = sitk.WriteImage

    def short_write(image, name, *args, **kwargs):  # what ITK's NIfTI writer does on a full disk
        real(image, name, *args, **kwargs)
        data = Path(name).read_bytes()
        Path(name).write_bytes(data[: len(data) // 2])

    monkeypatch.setattr(images.sitk, "WriteImage", short_write)
    image = sitk.Image(40, 40, 20, sitk.sitkFloat32) + 3.0
    with pytest.raises(ISLAError, match="stopped short"):
        write_image(image, tmp_path / "x.nii.gz")
    assert list(tmp_path.iterdir()) == []


def test_disk_full_during_predict(native_case, tmp_path, capsys, monkeypatch):
    def full(image, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(pipeline, "write_image", full)
    err = refused(capsys, ["predict", "--dwi", str(native_case["dwi"]), "--adc", str(native_case["adc"]),
                                   "-o", str(tmp_path / "out"), "--device", "cpu"])
    assert "the disk is full" in err and "nothing is half-written" in err
    assert list(tmp_path.iterdir()) == []  # no output folder, no staging folder
