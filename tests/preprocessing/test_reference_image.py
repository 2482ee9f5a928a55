"""The reference DWI and brain mask: grid, coverage of the MNI152 brain, no download."""

from __future__ import annotations

import importlib.util
import socket

import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet import reference
from isla_nnunet.errors import ISLAError
from isla_nnunet.io.geometry import ras_affine
from isla_nnunet.preprocessing import reference_image


def test_reference_grid_matches_the_definition():
    image = reference_image.image()
    assert image.GetSize() == reference.SHAPE_XYZ
    np.testing.assert_allclose(ras_affine(image), reference.affine(), atol=1e-9)
    mask = reference_image.brain_mask()
    assert mask.GetPixelID() == sitk.sitkUInt8 and mask.GetSize() == reference.SHAPE_XYZ


def test_image_is_brain_only_and_dwi_like():
    image = sitk.GetArrayFromImage(reference_image.image())
    mask = sitk.GetArrayFromImage(reference_image.brain_mask()) > 0
    assert image[~mask].max() == 0.0 and image[mask].mean() > 0.5
    volume_ml = mask.sum() * np.prod(reference.SPACING_XYZ) / 1000
    assert 1700 < volume_ml < 2000  # the MNI152 brain mask is about 1.88 l


def test_field_of_view_holds_the_whole_mni_brain():
    folder = reference_image.template_folder()
    t1 = sitk.ReadImage(str(folder / reference_image.TEMPLATE_FILES["t1"]))
    brain = sitk.GetArrayFromImage(t1) / 255.0 > reference_image.BRAIN_THRESHOLD
    index = np.argwhere(brain)[:, ::-1].astype(float)
    direction = np.asarray(t1.GetDirection()).reshape(3, 3)
    points = np.asarray(t1.GetOrigin()) + (index * np.asarray(t1.GetSpacing())) @ direction.T
    grid = reference_image.reference_grid()
    gdir = np.asarray(grid.GetDirection()).reshape(3, 3)
    cidx = ((points - np.asarray(grid.GetOrigin())) @ gdir) / np.asarray(grid.GetSpacing())
    inside = np.all((cidx >= -0.5) & (cidx <= np.asarray(grid.GetSize()) - 0.5), axis=1)
    assert inside.all()


def test_built_without_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the reference must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    reference_image._template_maps.cache_clear()
    reference_image._reference_pair.cache_clear()
    assert reference_image.image().GetSize() == reference.SHAPE_XYZ


def test_missing_nilearn_is_a_clear_error(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "nilearn" else real_find_spec(name, *a)
    )
    with pytest.raises(ISLAError, match="nilearn is not installed"):
        reference_image.template_folder()


def test_registration_target_covers_the_reference_field_of_view():
    target, mask = reference_image.registration_target()
    assert target.GetSpacing() == (2.0, 2.0, 2.0)
    extent = np.asarray(target.GetSize()) * 2.0
    assert np.all(extent >= np.asarray(reference.SHAPE_XYZ) * np.asarray(reference.SPACING_XYZ))
    assert sitk.GetArrayFromImage(mask).sum() * 8 / 1000 == pytest.approx(1883, rel=0.03)
