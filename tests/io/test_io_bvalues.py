"""b-values from sidecars, the choice of the b1000 trace in multi-volume files, and their errors."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.io.bvalues import read_diffusion


def _write(path, values):
    data = np.stack([np.full((6, 5, 4), v, np.float32) for v in values], axis=-1)
    nib.save(nib.Nifti1Image(data if len(values) > 1 else data[..., 0], np.eye(4)), path)
    return path


def _mean(image):
    return float(sitk.GetArrayFromImage(image).mean())


def test_bval_sidecar_picks_b1000_and_b0(tmp_path):
    path = _write(tmp_path / "dwi.nii.gz", [900.0, 300.0, 100.0])
    (tmp_path / "dwi.bval").write_text("0 1000 2000\n")
    chosen = read_diffusion(path)
    assert chosen.b_value == 1000.0 and _mean(chosen.trace) == 300.0 and _mean(chosen.b0) == 900.0


def test_directions_combined_by_geometric_mean(tmp_path):
    path = _write(tmp_path / "dwi.nii.gz", [900.0, 200.0, 800.0])
    chosen = read_diffusion(path, bvalues=[0, 1000, 1000])
    assert _mean(chosen.trace) == pytest.approx(400.0, rel=1e-5)


def test_json_sidecar_b_value_of_a_trace(tmp_path):
    path = _write(tmp_path / "dwi.nii.gz", [300.0])
    (tmp_path / "dwi.json").write_text(json.dumps({"DiffusionBValue": 800.0}))
    assert read_diffusion(path).b_value == 800.0


def test_multi_volume_without_b_values_refused(tmp_path):
    path = _write(tmp_path / "dwi.nii.gz", [900.0, 300.0])
    with pytest.raises(ISLAError, match="b-values are unknown") as err:
        read_diffusion(path)
    assert "\n" not in str(err.value)


def test_no_diffusion_weighted_volume_refused(tmp_path):
    path = _write(tmp_path / "dwi.nii.gz", [900.0, 800.0])
    with pytest.raises(ISLAError, match="no volume with b >= 500"):
        read_diffusion(path, bvalues=[0, 0])


def test_b0_given_as_dwi_refused(tmp_path):
    path = _write(tmp_path / "dwi.nii.gz", [900.0])
    (tmp_path / "dwi.json").write_text(json.dumps({"DiffusionBValue": 0}))
    with pytest.raises(ISLAError, match="give the b1000 trace DWI"):
        read_diffusion(path)


def test_sidecar_with_wrong_count_refused(tmp_path):
    path = _write(tmp_path / "dwi.nii.gz", [900.0, 300.0])
    (tmp_path / "dwi.bval").write_text("0 1000 1000")
    with pytest.raises(ISLAError, match="lists 3 b-values for 2 volumes"):
        read_diffusion(path)


def test_argument_with_wrong_count_refused(tmp_path):
    path = _write(tmp_path / "dwi.nii.gz", [900.0, 300.0])
    with pytest.raises(ISLAError, match="3 b-values given for 2 volumes"):
        read_diffusion(path, bvalues=[0, 1000, 1000])
