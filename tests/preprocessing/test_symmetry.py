"""Symmetric modality channels (Clèrigues et al. 2019, §3.1): an asymmetry moves to the other side, a
tilted midline is found by the registration, nnU-Net folders gain the mirrored channels."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.preprocessing.symmetry import add_symmetric_channels, symmetric_versions

SHAPE_XYZ = (64, 64, 24)
SPACING = (2.0, 2.0, 3.0)


def symmetric_head() -> np.ndarray:
    """(z, y, x) array symmetric about the x centre plane: an ellipsoid with blobs at distinct y."""
    z, y, x = np.indices(SHAPE_XYZ[::-1]).astype(float)
    cx, cy, cz = (SHAPE_XYZ[0] - 1) / 2, (SHAPE_XYZ[1] - 1) / 2, (SHAPE_XYZ[2] - 1) / 2
    head = (((x - cx) / 26) ** 2 + ((y - cy) / 22) ** 2 + ((z - cz) / 9) ** 2 <= 1) * 100.0
    for dx, dy, value in ((8, -10, 60), (14, 6, 160), (4, 14, 40)):   # pairs mirrored in x
        for sx in (-1, 1):
            head += 80 * np.exp(-(((x - cx - sx * dx) / 3) ** 2 + ((y - cy - dy) / 4) ** 2 + ((z - cz) / 3) ** 2)) \
                * value / 100
    head += 50 * np.exp(-(((x - cx) / 3) ** 2 + ((y - cy + 16) / 3) ** 2))   # on the midline, front
    return head.astype(np.float32)


def image(array: np.ndarray) -> sitk.Image:
    out = sitk.GetImageFromArray(array)
    out.SetSpacing(SPACING)
    out.SetOrigin((-63.0, -63.0, -34.5))
    return out


def test_a_left_sided_blob_appears_on_the_right_of_the_mirrored_channel():
    head = symmetric_head()
    lesion = np.zeros_like(head)
    lesion[10:14, 30:36, 14:20] = 300.0          # x 14-19: one side of the centre (31.5)
    (mirror,), _ = symmetric_versions([image(head + lesion)])
    mirrored = sitk.GetArrayFromImage(mirror)
    assert mirrored[10:14, 30:36, 44:50].mean() > 250        # x 63-19 .. 63-14: the other side
    assert mirrored[10:14, 30:36, 14:20].mean() < head[10:14, 30:36, 14:20].mean() + 30


def test_registration_recovers_a_tilted_midline():
    # The symmetric head turned by 6 degrees in the axial plane: its mirror is turned by -6, so the
    # registration must rotate it by 12 degrees about the z axis to lay it back onto the head.
    tilt = sitk.Euler3DTransform()
    tilt.SetCenter((0.0, 0.0, 0.0))
    tilt.SetRotation(0.0, 0.0, math.radians(6.0))
    tilted = sitk.Resample(image(symmetric_head()), tilt, sitk.sitkLinear, 0.0)
    (mirror,), transform = symmetric_versions([tilted])
    assert abs(abs(math.degrees(transform.GetAngleZ())) - 12.0) < 1.0
    assert abs(transform.GetAngleX()) < math.radians(1.5) and abs(transform.GetAngleY()) < math.radians(1.5)
    original, mirrored = sitk.GetArrayFromImage(tilted), sitk.GetArrayFromImage(mirror)
    inside = original > 50
    assert np.corrcoef(original[inside], mirrored[inside])[0, 1] > 0.95   # a symmetric head mirrors onto itself


def test_every_modality_follows_the_first_ones_transform():
    head = symmetric_head()
    dwi, adc = image(head), image(2 * head + 5 * (head > 0))
    (mirror_dwi, mirror_adc), _ = symmetric_versions([dwi, adc])
    a, b = sitk.GetArrayFromImage(mirror_dwi), sitk.GetArrayFromImage(mirror_adc)
    inside = head > 50
    assert np.allclose(b[inside], 2 * a[inside] + 5, rtol=0.05, atol=8)


def test_nnunet_folder_gains_mirrored_channels_and_dataset_json_names(tmp_path):
    folder = tmp_path / "Dataset001_X" / "imagesTr"
    folder.mkdir(parents=True)
    (folder.parent / "dataset.json").write_text(json.dumps({"channel_names": {"0": "DWI", "1": "ADC"},
                                                            "file_ending": ".nii.gz"}))
    head = symmetric_head()
    for case in ("a", "b"):
        sitk.WriteImage(image(head), str(folder / f"{case}_0000.nii.gz"))
        sitk.WriteImage(image(head * 2), str(folder / f"{case}_0001.nii.gz"))
    assert add_symmetric_channels(folder) == ["a", "b"]
    assert sorted(p.name for p in folder.iterdir()) == [f"{c}_{k:04d}.nii.gz" for c in "ab" for k in range(4)]
    names = json.loads((folder.parent / "dataset.json").read_text())["channel_names"]
    assert names == {"0": "DWI", "1": "ADC", "2": "DWI_sym", "3": "ADC_sym"}
    assert add_symmetric_channels(folder) == []                       # done: nothing to redo
    assert json.loads((folder.parent / "dataset.json").read_text())["channel_names"] == names


def test_bad_inputs_are_refused(tmp_path):
    with pytest.raises(ISLAError, match="no nnU-Net images"):
        add_symmetric_channels(tmp_path)
    small = sitk.Image([8, 8, 8], sitk.sitkFloat32)
    with pytest.raises(ISLAError, match="different grids"):
        symmetric_versions([image(symmetric_head()), small])
    with pytest.raises(ISLAError, match="no image"):
        symmetric_versions([])
