"""Helpers for the evaluation tests: tiny volumes and image files written with SimpleITK."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import ISLES_MASKS


@pytest.fixture(scope="session")
def isles_masks(shared_data) -> dict[str, Path]:
    """Paths of the five real ISLES'22 masks, keyed like :data:`ISLES_MASKS`."""
    paths = {name: shared_data / "isles22" / name for name in ISLES_MASKS}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        pytest.skip(f"ISLES'22 masks missing: {', '.join(missing)}")
    return paths
