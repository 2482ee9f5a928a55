"""Files a reader cannot trust are errors, and scaled integers read as their float originals.

Each fault is built on the fly from the simulated native case (and from the real ISLES'22 case when
../shared/data is present): a ``.nii.gz`` cut short (ITK reads the missing part as zeros), a plain
``.nii`` cut short, a header with voxel size 0 and no qform/sform (ITK reads 1 mm), a sheared
orientation, and an int16 file with ``scl_slope``/``scl_inter`` whose background ITK returns as tiny
non-zeros.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.io import load_case
from isla_nnunet.io.images import read_image
from isla_nnunet.preprocessing.brain_extraction import extract_brain, resolve_method

# NIfTI-1 header offsets (nifti1.h): pixdim[1..3], qform_code and sform_code.
PIXDIM_XYZ, QFORM_CODE = 80, 252


def uncompressed(source: Path, into: Path) -> bytearray:
    image = nib.load(source)
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj), image.affine, image.header), into)
    return bytearray(into.read_bytes())


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.999])
def test_cut_short_nii_gz_is_an_error(native_case, tmp_path, keep):
    data = Path(native_case["dwi"]).read_bytes()
    cut = tmp_path / "dwi.nii.gz"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ISLAError, match="is cut short or damaged.*copy the file again"):
        read_image(cut)


def test_cut_short_nii_is_an_error(native_case, tmp_path):
    data = uncompressed(native_case["dwi"], tmp_path / "whole.nii")
    cut = tmp_path / "dwi.nii"
    cut.write_bytes(bytes(data[: len(data) - 1000]))
    with pytest.raises(ISLAError, match=r"holds \d+ bytes, its header announces \d+"):
        read_image(cut)
    read_image(tmp_path / "whole.nii")  # the whole file reads


def test_damaged_gzip_stream_is_an_error(native_case, tmp_path):
    data = bytearray(Path(native_case["dwi"]).read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = bytes(64)
    damaged = tmp_path / "dwi.nii.gz"
    damaged.write_bytes(bytes(data))
    with pytest.raises(ISLAError, match="is cut short or damaged"):
        read_image(damaged)


def test_zero_voxel_size_without_qform_or_sform_is_an_error(native_case, tmp_path):
    data = uncompressed(native_case["dwi"], tmp_path / "x.nii")
    data[PIXDIM_XYZ:PIXDIM_XYZ + 12] = struct.pack("<3f", 0.0, 0.0, 0.0)
    data[QFORM_CODE:QFORM_CODE + 4] = struct.pack("<2h", 0, 0)
    path = tmp_path / "dwi.nii.gz"
    path.write_bytes(gzip.compress(bytes(data)))
    assert sitk.ReadImage(str(path)).GetSpacing() == (1.0, 1.0, 1.0)  # what ITK alone would use
    with pytest.raises(ISLAError, match=r"has no voxel size \(pixdim \[0.0, 0.0, 0.0\] and no sform\)"):
        read_image(path)


def test_sheared_orientation_names_the_cause(native_case, tmp_path):
    image = nib.load(native_case["dwi"])
    affine = image.affine.copy()
    affine[0, 1] = 0.5 * affine[1, 1]
    path = tmp_path / "dwi.nii.gz"
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj), affine), path)
    with pytest.raises(ISLAError, match="orientation matrix is sheared") as err:
        read_image(path)
    assert "complete" not in str(err.value)


def scaled_int16(source: Path, into: Path) -> float:
    """``source`` stored as int16 with nibabel's scaling; one voxel set to -1 % of the maximum forces a
    non-zero scl_inter, as in files whose values run below 0. Returns scl_slope."""
    image = nib.load(source)
    values = np.asarray(image.dataobj, dtype=np.float32).copy()
    values[0, 0, 0] = -0.01 * values.max()
    header = image.header.copy()
    header.set_data_dtype(np.int16)
    nib.save(nib.Nifti1Image(values, image.affine, header), into)
    stored = nib.load(into)
    assert stored.dataobj.inter != 0
    return float(stored.dataobj.slope)


def float_twin(source: Path, into: Path) -> None:
    image = nib.load(source)
    values = np.asarray(image.dataobj, dtype=np.float32).copy()
    values[0, 0, 0] = -0.01 * values.max()
    nib.save(nib.Nifti1Image(values, image.affine), into)


def test_scaled_int16_reads_as_its_float_original(native_case, tmp_path):
    slope = scaled_int16(native_case["dwi"], tmp_path / "int16.nii.gz")
    float_twin(native_case["dwi"], tmp_path / "float.nii.gz")
    plain = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "int16.nii.gz")))
    assert np.count_nonzero(plain == 0) == 0  # ITK alone: no exact zero left in the background
    ours = sitk.GetArrayFromImage(read_image(tmp_path / "int16.nii.gz"))
    original = sitk.GetArrayFromImage(read_image(tmp_path / "float.nii.gz"))
    np.testing.assert_array_equal(ours == 0, original == 0)
    np.testing.assert_allclose(ours, original, atol=slope)


def _scaled_case(files: dict, folder: Path, scaled: bool):
    folder.mkdir()
    paths = {}
    for key in ("dwi", "adc"):
        paths[key] = folder / f"{key}.nii.gz"
        (scaled_int16 if scaled else float_twin)(files[key], paths[key])
    return load_case(paths["dwi"], adc=paths["adc"], case_id="c")


@pytest.mark.parametrize("method", ["auto", "stripped"])
def test_scaled_int16_gives_the_brain_of_the_float_version(native_case, tmp_path, method):
    scaled = _scaled_case(native_case, tmp_path / "int16", True)
    original = _scaled_case(native_case, tmp_path / "float", False)
    assert resolve_method(scaled, method) == resolve_method(original, method)
    brains = [sitk.GetArrayFromImage(extract_brain(c, method)) for c in (scaled, original)]
    np.testing.assert_array_equal(*brains)
    voxel_ml = np.prod(original.dwi.GetSpacing()) / 1000
    assert brains[0].sum() * voxel_ml < 2500  # a head, not the 7-litre field of view


def test_real_scaled_int16_case(shared_data, tmp_path):
    case = shared_data / "isles22" / "sub-strokecase0009"
    files = {k: case / f"sub-strokecase0009_ses-0001_{k}.nii.gz" for k in ("dwi", "adc")}
    scaled = _scaled_case(files, tmp_path / "int16", True)
    original = _scaled_case(files, tmp_path / "float", False)
    assert resolve_method(scaled, "auto") == resolve_method(original, "auto")
    brains = [sitk.GetArrayFromImage(extract_brain(c, "auto")).astype(bool) for c in (scaled, original)]
    # int16 rounds each value by up to half a step, which moves a few voxels across the brain
    # extraction's intensity thresholds (measured: 17 of about 900,000 voxels).
    overlap = 2 * np.count_nonzero(brains[0] & brains[1]) / (brains[0].sum() + brains[1].sum())
    assert overlap > 0.999
    assert abs(int(brains[0].sum()) - int(brains[1].sum())) < 1e-3 * brains[1].sum()
