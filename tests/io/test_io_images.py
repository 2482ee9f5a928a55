"""Reading NIfTI / MetaImage / NRRD, 4-D handling, atomic writes, and the one-line errors."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.io.images import read_image, read_volumes, write_image


def _image(shape_zyx=(4, 5, 6), value=1.0) -> sitk.Image:
    image = sitk.GetImageFromArray(np.arange(np.prod(shape_zyx), dtype=np.float32).reshape(shape_zyx) * value)
    image.SetSpacing((0.9, 0.8, 6.0))
    image.SetOrigin((10.0, -20.0, 30.0))
    return image


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".mha", ".nrrd"])
def test_formats_round_trip(tmp_path, suffix):
    image = _image()
    path = write_image(image, tmp_path / f"x{suffix}")
    back = read_image(path)
    assert back.GetSize() == image.GetSize()
    np.testing.assert_allclose(back.GetSpacing(), image.GetSpacing(), atol=1e-5)
    np.testing.assert_allclose(back.GetOrigin(), image.GetOrigin(), atol=1e-4)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(image))


def test_atomic_write_leaves_no_temporary(tmp_path):
    write_image(_image(), tmp_path / "a.nii.gz")
    assert [p.name for p in tmp_path.iterdir()] == ["a.nii.gz"]


def test_trailing_axis_of_one_is_squeezed(tmp_path):
    data = np.random.default_rng(0).random((6, 5, 4, 1)).astype(np.float32)
    affine = np.diag([-0.9, 0.9, 6.0, 1.0])
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "x.nii.gz")
    image = read_image(tmp_path / "x.nii.gz")
    assert image.GetDimension() == 3 and image.GetSize() == (6, 5, 4)
    np.testing.assert_allclose(sitk.GetArrayFromImage(image), data[..., 0].transpose(2, 1, 0))


def test_multi_volume_file_gives_all_volumes(tmp_path):
    data = np.stack([np.full((6, 5, 4), v, np.float32) for v in (1.0, 2.0, 3.0)], axis=-1)
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "x.nii.gz")
    volumes = read_volumes(tmp_path / "x.nii.gz")
    assert [float(sitk.GetArrayFromImage(v).mean()) for v in volumes] == [1.0, 2.0, 3.0]
    with pytest.raises(ISLAError, match="holds 3 volumes"):
        read_image(tmp_path / "x.nii.gz")


def _one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message and ": " in message
    return message


def test_missing_file(tmp_path):
    with pytest.raises(ISLAError) as err:
        read_image(tmp_path / "nope.nii.gz")
    assert "does not exist" in _one_line(err)


def test_unknown_format(tmp_path):
    (tmp_path / "x.png").write_bytes(b"\x89PNG")
    with pytest.raises(ISLAError) as err:
        read_image(tmp_path / "x.png")
    assert "unknown image format" in _one_line(err)


def test_corrupt_file(tmp_path):
    (tmp_path / "x.nii.gz").write_bytes(b"not a nifti")
    with pytest.raises(ISLAError) as err:
        read_image(tmp_path / "x.nii.gz")
    assert "is cut short or damaged" in _one_line(err)


def test_two_dimensional_image_refused(tmp_path):
    sitk.WriteImage(sitk.Image(8, 8, sitk.sitkFloat32), str(tmp_path / "x.mha"))
    with pytest.raises(ISLAError) as err:
        read_image(tmp_path / "x.mha")
    assert "2-D" in _one_line(err)
