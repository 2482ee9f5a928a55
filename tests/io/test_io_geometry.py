"""Grid comparison, coverage, RAS/LPS conversion and JSON round trips."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import SimpleITK as sitk

from isla_nnunet import reference
from isla_nnunet.io.geometry import (
    coverage,
    grid_from_dict,
    grid_to_dict,
    image_from_ras_affine,
    ras_affine,
    same_grid,
)


def test_reference_affine_round_trips_through_simpleitk(tmp_path):
    grid = image_from_ras_affine(reference.affine(), reference.SHAPE_XYZ)
    np.testing.assert_allclose(ras_affine(grid), reference.affine(), atol=1e-9)
    sitk.WriteImage(grid, str(tmp_path / "g.nii.gz"))
    header = nib.load(tmp_path / "g.nii.gz")
    np.testing.assert_allclose(header.affine, reference.affine(), atol=1e-4)
    assert nib.aff2axcodes(header.affine) == tuple(reference.ORIENTATION)


def test_same_grid_tolerates_header_rounding_only():
    a = sitk.Image(10, 10, 10, sitk.sitkUInt8)
    a.SetSpacing((0.8984374, 0.8984374, 6.0))
    b = sitk.Image(a)
    b.SetSpacing((0.89843744, 0.89843744, 5.9999976))
    assert same_grid(a, b)
    b.SetOrigin((0.5, 0.0, 0.0))
    assert not same_grid(a, b)
    assert not same_grid(a, sitk.Image(10, 10, 11, sitk.sitkUInt8))


def test_coverage():
    a = sitk.Image(10, 10, 10, sitk.sitkUInt8)
    b = sitk.Image(a)
    assert coverage(a, b) == 1.0
    b.SetOrigin((5.0, 0.0, 0.0))
    assert 0.4 < coverage(a, b) < 0.6
    b.SetOrigin((500.0, 0.0, 0.0))
    assert coverage(a, b) == 0.0


def test_grid_json_round_trip_is_exact():
    grid = sitk.Image(7, 8, 9, sitk.sitkFloat32)
    grid.SetSpacing((0.1 + 0.2, 1 / 3, 6.0))
    grid.SetOrigin((np.pi, -np.e, 1e-7))
    back = grid_from_dict(json.loads(json.dumps(grid_to_dict(grid))))
    assert back.GetSpacing() == grid.GetSpacing() and back.GetOrigin() == grid.GetOrigin()
    assert back.GetDirection() == grid.GetDirection()
