"""A simulated native case shared by the prediction tests (about 6 s to make)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def native_case(tmp_path_factory) -> dict:
    """One ISLES'22-like case (2 mm isotropic, skull-stripped, 10 ml single lesion) as NIfTI files:
    {"dwi", "adc", "msk", "brainmask", "json"} paths."""
    from isla_nnunet.simulation import simulate_case, write_native_case

    case = simulate_case(5, "isles22-like", pattern="single", volume_ml=10.0)
    return write_native_case(case, tmp_path_factory.mktemp("native"), "sim5")
