"""DICOM series folders written by the test: geometry, b-value grouping, errors, and load_case on DICOM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.io import load_case, read_image
from isla_nnunet.io.dicom import read_dicom_volumes

SPACING = (0.9, 0.9, 6.0)
ORIGIN = (-100.0, -120.0, -60.0)
_UID = "1.2.826.0.1.3680043.2.1125"


def write_series(folder: Path, volumes, bvalues, series: str = "1") -> None:
    """One MR series of int16 slices; volumes with the same positions are told apart by DiffusionBValue."""
    folder.mkdir(parents=True, exist_ok=True)
    number = 0
    for volume, b_value in zip(volumes, bvalues, strict=True):
        image = sitk.GetImageFromArray(volume.astype(np.int16))
        image.SetSpacing(SPACING)
        image.SetOrigin(ORIGIN)
        for z in range(volume.shape[0]):
            plane = image[:, :, z]
            position = image.TransformIndexToPhysicalPoint((0, 0, z))
            number += 1
            tags = {
                "0008|0060": "MR",
                "0008|0016": "1.2.840.10008.5.1.4.1.1.4",
                "0008|0018": f"{_UID}.{series}.{number}",
                "0020|000d": f"{_UID}.9",
                "0020|000e": f"{_UID}.{series}",
                "0020|0013": str(number),
                "0020|0032": "\\".join(f"{p:.4f}" for p in position),
                "0020|0037": "1\\0\\0\\0\\1\\0",
                "0028|0030": f"{SPACING[1]}\\{SPACING[0]}",
                "0018|0050": str(SPACING[2]),
            }
            if b_value is not None:
                tags["0018|9087"] = str(b_value)
            for key, value in tags.items():
                plane.SetMetaData(key, value)
            writer = sitk.ImageFileWriter()
            writer.KeepOriginalImageUIDOn()
            writer.SetFileName(str(folder / f"{series}_{number:04d}.dcm"))
            writer.Execute(plane)


def _volume(value: float, shape=(5, 8, 7)) -> np.ndarray:
    out = np.full(shape, value)
    out[:, 2:6, 2:5] += value  # some structure so that nothing is constant
    return out


def test_single_series_geometry(tmp_path):
    write_series(tmp_path / "dwi", [_volume(100)], [None])
    image = read_image(tmp_path / "dwi")
    assert image.GetSize() == (7, 8, 5)
    np.testing.assert_allclose(image.GetSpacing(), SPACING, atol=1e-4)
    np.testing.assert_allclose(image.GetOrigin(), ORIGIN, atol=1e-3)


def test_interleaved_b_values_are_split(tmp_path):
    write_series(tmp_path / "dwi", [_volume(100), _volume(40)], [0, 1000])
    volumes = read_dicom_volumes(tmp_path / "dwi")
    assert [b for _, b in volumes] == [0.0, 1000.0]
    assert [float(sitk.GetArrayFromImage(v).min()) for v, _ in volumes] == [100.0, 40.0]


def test_dicom_dwi_with_b0_gives_adc(tmp_path):
    s0, adc_true = 1000.0, 0.8e-3
    write_series(
        tmp_path / "dwi",
        [np.full((5, 8, 7), s0), np.full((5, 8, 7), s0 * np.exp(-1000 * adc_true))],
        [0, 1000],
    )
    case = load_case(tmp_path / "dwi")
    assert case.b_value == 1000.0 and case.adc_origin.startswith("computed")
    # int16 storage rounds S_b to 449: ADC within 0.2 %.
    np.testing.assert_allclose(sitk.GetArrayFromImage(case.adc), 800.0, rtol=2e-3)


def test_two_series_in_one_folder_refused(tmp_path):
    write_series(tmp_path / "mixed", [_volume(100)], [None], series="1")
    write_series(tmp_path / "mixed", [_volume(50)], [None], series="2")
    with pytest.raises(ISLAError, match="holds 2 DICOM series"):
        read_image(tmp_path / "mixed")


def test_repeated_positions_without_b_values_refused(tmp_path):
    write_series(tmp_path / "dwi", [_volume(100), _volume(40)], [None, None])
    with pytest.raises(ISLAError, match="repeats slice positions"):
        read_image(tmp_path / "dwi")


def test_folder_without_dicom(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ISLAError, match="no DICOM series"):
        read_image(tmp_path / "empty")
