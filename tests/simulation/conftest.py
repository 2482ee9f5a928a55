"""Simulated cases shared by the simulation tests (each costs ~1 s, so they are made once)."""

from __future__ import annotations

import functools

import pytest

from isla_nnunet.simulation import simulate_case


@functools.cache
def _case(seed, domain, pattern=None, volume_ml=None):
    return simulate_case(seed, domain, pattern=pattern, volume_ml=volume_ml)


@pytest.fixture(scope="session")
def make_case():
    """``make_case(seed, domain, pattern=None, volume_ml=None)``, cached for the session."""
    return _case
