import dataclasses

import numpy as np
import pytest

from isla_nnunet.errors import ISLAError
from isla_nnunet.simulation.domains import DOMAINS, Domain, describe_domains, get_domain


def test_presets():
    assert {"source", "target", "isles22-like", "soop-like"} <= set(DOMAINS)
    expected = {
        "source": (1000.0, 1e-3, "reference", True),
        "target": (800.0, 1e-6, "reference", True),
        "isles22-like": (1000.0, 1e-3, "isles22", True),
        "soop-like": (1000.0, 1e-6, "soop", False),
    }
    for name, (b_value, unit, grid, stripped) in expected.items():
        domain = get_domain(name)
        assert (domain.b_value, domain.adc_unit, domain.grid, domain.skull_stripped) == (
            b_value,
            unit,
            grid,
            stripped,
        )
    assert get_domain("soop-like").integer_max == 4095


def test_source_and_target_differ_in_noise_bias_and_contrast():
    source, target = get_domain("source"), get_domain("target")
    assert source.snr[0] > target.snr[1]
    assert source.bias_strength[1] < target.bias_strength[0]
    assert source.gamma[0] > target.gamma[1]


@pytest.mark.parametrize("name", sorted(DOMAINS))
def test_sample_is_seeded_and_within_ranges(name):
    domain = get_domain(name)
    a = domain.sample(np.random.default_rng(5))
    assert a == domain.sample(np.random.default_rng(5))
    assert a != domain.sample(np.random.default_rng(6))
    assert domain.snr[0] <= a.snr <= domain.snr[1]
    assert domain.bias_strength[0] <= a.bias_strength <= domain.bias_strength[1]
    assert domain.gamma[0] <= a.gamma <= domain.gamma[1]
    assert (a.domain, a.b_value, a.adc_unit) == (name, domain.b_value, domain.adc_unit)


def test_custom_domains_and_errors():
    custom = dataclasses.replace(get_domain("source"), name="b800", b_value=800.0)
    assert get_domain(custom) is custom
    with pytest.raises(ISLAError, match="unknown simulation domain"):
        get_domain("siemens")
    with pytest.raises(ISLAError, match="ADC unit"):
        Domain("bad", "", adc_unit=1.0)
    with pytest.raises(ISLAError, match="snr"):
        Domain("bad", "", snr=(10.0, 5.0))
    assert all(name in describe_domains() for name in DOMAINS)
