"""Shared fixtures: the real cases in ../shared/data (skipped with a reason when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Keep nnU-Net and torch polite on small CI machines.
os.environ.setdefault("nnUNet_n_proc_DA", "0")
os.environ.setdefault("nnUNet_def_n_proc", "2")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the real MRI cases; tests using it skip when the folder is not beside the checkout."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real MRI cases not found at {SHARED_DATA} (only present beside the CI checkout)")
    return SHARED_DATA
