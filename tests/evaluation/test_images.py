"""Reading masks and probabilities: formats, 4-D files, grid checks and the errors users can fix."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.evaluation.images import check_same_grid, read_mask, read_probability, write_image
from isla_nnunet.io.atomic import atomic_output

from .helpers import volume

MASK = volume((2, 3, 4), (1, 2, 3), (0, 0, 0))


@pytest.mark.parametrize("name", ["m.nii.gz", "m.nii", "m.mha", "m.nrrd"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
def test_read_mask_formats(tmp_path, save_image, name, dtype):
    path = save_image(tmp_path / name, MASK.astype(dtype), spacing_zyx=(6.0, 0.9, 0.8))
    mask = read_mask(path)
    assert mask.array.dtype == bool
    np.testing.assert_array_equal(mask.array, MASK)
    assert mask.geometry.shape_zyx == (2, 3, 4)
    assert mask.geometry.spacing_zyx == pytest.approx((6.0, 0.9, 0.8))
    assert mask.geometry.voxel_volume_ml == pytest.approx(6.0 * 0.9 * 0.8 / 1000)


def _write_4d(path, array_tzyx, spacing=(0.9, 0.9, 6.0, 1.0)):
    image = sitk.JoinSeries([sitk.GetImageFromArray(a) for a in array_tzyx])
    image.SetSpacing(spacing)
    sitk.WriteImage(image, str(path))
    return path


def test_read_mask_4d_with_singleton_last_axis(tmp_path):
    path = _write_4d(tmp_path / "m4.nii.gz", MASK[None].astype(np.uint8))
    mask = read_mask(path)
    np.testing.assert_array_equal(mask.array, MASK)
    assert mask.geometry.spacing_zyx == pytest.approx((6.0, 0.9, 0.9))  # the 4th spacing is ignored


def test_read_mask_4d_with_several_volumes_is_an_error(tmp_path):
    path = _write_4d(tmp_path / "m4.nii.gz", np.stack([MASK, MASK]).astype(np.uint8))
    with pytest.raises(ISLAError, match="4-D with 2 volumes"):
        read_mask(path)


@pytest.mark.parametrize(
    "array, name, message",
    [
        (MASK.astype(np.uint8) * 2, "bad.nii.gz", "not a binary mask"),
        (MASK.astype(np.uint8) * 255, "bad.nii.gz", "not a binary mask"),
        (np.where(MASK, 0.7, 0.0).astype(np.float32), "bad.nii.gz", "not a binary mask"),
        # ITK's NIfTI reader turns NaN into 0, so NaN is only visible in MetaImage/NRRD files.
        (np.where(MASK, np.nan, 0.0).astype(np.float32), "bad.mha", "NaN"),
    ],
)
def test_read_mask_rejects_non_binary(tmp_path, save_image, array, name, message):
    with pytest.raises(ISLAError, match=message):
        read_mask(save_image(tmp_path / name, array))


def test_read_mask_missing_and_unreadable(tmp_path):
    with pytest.raises(ISLAError, match="does not exist"):
        read_mask(tmp_path / "absent.nii.gz")
    (tmp_path / "junk.nii.gz").write_bytes(b"not an image")
    with pytest.raises(ISLAError, match="cannot read"):
        read_mask(tmp_path / "junk.nii.gz")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"spacing_zyx": (2.0, 1.0, 1.0)}, "spacing"),
        ({"origin_xyz": (0.0, 0.0, 5.0)}, "origin"),
    ],
)
def test_check_same_grid(tmp_path, save_image, kwargs, message):
    a = read_mask(save_image(tmp_path / "a.nii.gz", MASK.astype(np.uint8)))
    b = read_mask(save_image(tmp_path / "b.nii.gz", MASK.astype(np.uint8), **kwargs))
    check_same_grid(a, a)
    with pytest.raises(ISLAError, match=f"different grids.*{message}"):
        check_same_grid(a, b)


def test_check_same_grid_shape(tmp_path, save_image):
    a = read_mask(save_image(tmp_path / "a.nii.gz", MASK.astype(np.uint8)))
    b = read_mask(save_image(tmp_path / "b.nii.gz", np.zeros((2, 3, 5), np.uint8)))
    with pytest.raises(ISLAError, match="shape"):
        check_same_grid(a, b)


def _npz(path, lesion, channels=2):
    probabilities = np.stack([1 - lesion, lesion]) if channels == 2 else lesion[None]
    np.savez_compressed(path, probabilities=probabilities.astype(np.float16))
    return path


@pytest.mark.parametrize("channels", [1, 2])
def test_read_probability_npz(tmp_path, save_image, channels):
    reference = read_mask(save_image(tmp_path / "gt.nii.gz", MASK.astype(np.uint8))).geometry
    lesion = np.where(MASK, 0.75, 0.25)
    image = read_probability(_npz(tmp_path / "case.npz", lesion, channels), reference)
    np.testing.assert_allclose(image.array, lesion)
    assert image.geometry == reference


def test_read_probability_npz_errors(tmp_path, save_image):
    reference = read_mask(save_image(tmp_path / "gt.nii.gz", MASK.astype(np.uint8))).geometry
    with pytest.raises(ISLAError, match="do not match the ground-truth grid"):
        read_probability(_npz(tmp_path / "a.npz", np.zeros((2, 3, 5))), reference)
    np.savez(tmp_path / "b.npz", softmax=np.zeros((2, 2, 3, 4)))
    with pytest.raises(ISLAError, match="no 'probabilities'"):
        read_probability(tmp_path / "b.npz", reference)
    np.savez(tmp_path / "c.npz", probabilities=np.full((2, 2, 3, 4), 3.0))
    with pytest.raises(ISLAError, match=r"values in \[3, 3\]"):
        read_probability(tmp_path / "c.npz", reference)


def test_read_probability_image(tmp_path, save_image):
    reference = read_mask(save_image(tmp_path / "gt.nii.gz", MASK.astype(np.uint8))).geometry
    prob = save_image(tmp_path / "p.nii.gz", np.where(MASK, 0.9, 0.0).astype(np.float32))
    np.testing.assert_allclose(read_probability(prob, reference).array, np.where(MASK, 0.9, 0.0))
    moved = save_image(tmp_path / "q.nii.gz", np.zeros((2, 3, 4), np.float32), origin_xyz=(1.0, 0.0, 0.0))
    with pytest.raises(ISLAError, match="not on the ground-truth grid"):
        read_probability(moved, reference)
    logits = save_image(tmp_path / "r.nii.gz", np.full((2, 3, 4), 4.0, np.float32))
    with pytest.raises(ISLAError, match="probabilities in"):
        read_probability(logits, reference)


def test_write_image_round_trip_and_atomic(tmp_path, save_image):
    geometry = read_mask(save_image(tmp_path / "gt.nii.gz", MASK.astype(np.uint8), (6.0, 0.9, 0.8),
                                    (1.0, 2.0, 3.0))).geometry
    values = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    out = write_image(values, geometry, tmp_path / "sub" / "o.nii.gz")
    back = sitk.ReadImage(str(out))
    assert back.GetSpacing() == pytest.approx((0.8, 0.9, 6.0))
    assert back.GetOrigin() == pytest.approx((1.0, 2.0, 3.0))
    assert sitk.GetArrayFromImage(back)[1, 2, 3] == 23
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["o.nii.gz"]  # no temporary left


def test_atomic_output_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer failed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
