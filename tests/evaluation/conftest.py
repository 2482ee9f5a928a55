"""Helpers for the evaluation tests: tiny volumes and image files written with SimpleITK."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from .helpers import ISLES_MASKS


@pytest.fixture
def save_image():
    """``save_image(path, array, spacing_zyx=(1, 1, 1), origin_xyz=(0, 0, 0))`` -> path."""

    def write(path, array, spacing_zyx=(1.0, 1.0, 1.0), origin_xyz=(0.0, 0.0, 0.0)) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        image = sitk.GetImageFromArray(np.asarray(array))
        image.SetSpacing([float(s) for s in spacing_zyx[::-1]])
        image.SetOrigin([float(o) for o in origin_xyz])
        sitk.WriteImage(image, str(path))
        return path

    return write


@pytest.fixture(scope="session")
def isles_masks(shared_data) -> dict[str, Path]:
    """Paths of the five real ISLES'22 masks, keyed like :data:`ISLES_MASKS`."""
    paths = {name: shared_data / "isles22" / name for name in ISLES_MASKS}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        pytest.skip(f"ISLES'22 masks missing: {', '.join(missing)}")
    return paths
