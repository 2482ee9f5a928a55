"""Acquisition domains: named, seedable sets of scanner settings.

A :class:`Domain` holds fixed settings (grid, b-value, ADC units, skull stripping, output type) and
ranges for the settings that vary from scan to scan within a site (SNR, bias-field strength, DWI
gamma). :meth:`Domain.sample` draws one concrete :class:`Acquisition` from a seeded generator, so a
"source" and a "target" domain for domain-adaptation experiments are two presets (or your own
``dataclasses.replace`` of one).

Example:
    >>> import dataclasses, numpy as np
    >>> from isla_nnunet.simulation.domains import get_domain
    >>> acq = get_domain("target").sample(np.random.default_rng(0))
    >>> acq.b_value, acq.adc_unit
    (800.0, 1e-06)
    >>> noisier = dataclasses.replace(get_domain("source"), name="noisy", snr=(6.0, 8.0))
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from dataclasses import field as dataclass_field

import numpy as np

from isla_nnunet.errors import ISLAError
from isla_nnunet.simulation.randomisation import RANDOMISED, Randomisation

ADC_UNITS = (1e-3, 1e-6)


@dataclass(frozen=True)
class Acquisition:
    """One scan's concrete settings (see :class:`Domain` for the meaning of each field)."""

    domain: str
    grid: str
    b_value: float
    adc_unit: float
    snr: float
    bias_strength: float
    gamma: float
    noise_correlation_mm: float
    skull_stripped: bool
    dwi_median: float
    integer_max: int | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Domain:
    """Scanner settings of a site.

    Attributes:
        name: preset name.
        description: one line for listings.
        grid: native grid name (see :data:`isla_nnunet.simulation.geometry.GRIDS`).
        b_value: diffusion weighting of the DWI in s/mm^2.
        adc_unit: mm^2/s per stored ADC unit: 1e-3 (ADC ~0.8 in tissue) or 1e-6 (ADC ~800).
        snr: range of the white-matter signal-to-noise ratio of the DWI (Rician noise, also on b=0).
        bias_strength: range of the standard deviation of the log receive-bias field over the head.
        gamma: range of the exponent applied to the DWI intensities (vendor contrast, windowing).
        noise_correlation_mm: in-plane smoothing of the noise (k-space zero filling / interpolation).
        skull_stripped: zero everything outside the brain (else the skull and scalp are imaged).
        dwi_median: median brain DWI intensity in stored units.
        integer_max: store DWI and ADC as int16 clipped to [0, integer_max] (e.g. 4095), or floats if None.
        max_rotation_deg / max_translation_mm: the head pose range, per axis (see RigidPose).
        randomisation: domain-randomisation options (see :mod:`~isla_nnunet.simulation.randomisation`).
    """

    name: str
    description: str
    grid: str = "reference"
    b_value: float = 1000.0
    adc_unit: float = 1e-3
    snr: tuple[float, float] = (25.0, 40.0)
    bias_strength: tuple[float, float] = (0.0, 0.06)
    gamma: tuple[float, float] = (0.95, 1.05)
    noise_correlation_mm: float = 0.0
    skull_stripped: bool = True
    dwi_median: float = 300.0
    integer_max: int | None = None
    max_rotation_deg: tuple[float, float, float] = (3.0, 2.0, 3.0)
    max_translation_mm: tuple[float, float, float] = (3.0, 3.0, 2.0)
    randomisation: Randomisation = dataclass_field(default_factory=Randomisation)

    def __post_init__(self):
        if self.b_value <= 0:
            raise ISLAError(f"domain {self.name!r}: b-value must be positive, got {self.b_value}")
        if not any(np.isclose(self.adc_unit, unit) for unit in ADC_UNITS):
            raise ISLAError(
                f"domain {self.name!r}: ADC unit must be 1e-3 or 1e-6 mm^2/s, got {self.adc_unit}"
            )
        for field in ("snr", "bias_strength", "gamma"):
            low, high = getattr(self, field)
            if not 0 <= low <= high:
                raise ISLAError(
                    f"domain {self.name!r}: {field} range must satisfy 0 <= low <= high, got {low, high}"
                )
        if self.snr[0] <= 0 or self.gamma[0] <= 0:
            raise ISLAError(f"domain {self.name!r}: SNR and gamma must be positive")

    def sample(self, rng: np.random.Generator) -> Acquisition:
        """Draw one scan's settings: SNR log-uniform, bias strength and gamma uniform in their ranges."""
        snr = float(np.exp(rng.uniform(np.log(self.snr[0]), np.log(self.snr[1]))))
        return Acquisition(
            domain=self.name,
            grid=self.grid,
            b_value=float(self.b_value),
            adc_unit=float(self.adc_unit),
            snr=snr,
            bias_strength=float(rng.uniform(*self.bias_strength)),
            gamma=float(rng.uniform(*self.gamma)),
            noise_correlation_mm=float(self.noise_correlation_mm),
            skull_stripped=bool(self.skull_stripped),
            dwi_median=float(self.dwi_median),
            integer_max=self.integer_max,
        )


DOMAINS: dict[str, Domain] = {
    domain.name: domain
    for domain in (
        Domain(
            "source",
            "reference grid, skull-stripped, b1000, ADC 1e-3, clean (high SNR, weak bias)",
        ),
        Domain(
            "target",
            "reference grid, skull-stripped, b800, ADC 1e-6, noisy, strong bias, lower DWI gamma",
            b_value=800.0,
            adc_unit=1e-6,
            snr=(10.0, 16.0),
            bias_strength=(0.10, 0.25),
            gamma=(0.75, 0.90),
            noise_correlation_mm=1.2,
            dwi_median=600.0,
        ),
        Domain(
            "isles22-like",
            "native 2 mm isotropic 112x112x73, skull-stripped, b1000, ADC 1e-3, float",
            grid="isles22",
            snr=(18.0, 30.0),
            bias_strength=(0.03, 0.10),
            max_rotation_deg=(12.0, 4.0, 6.0),
            max_translation_mm=(6.0, 8.0, 6.0),
        ),
        Domain(
            "soop-like",
            "native 0.9x0.9x6 mm 256x256x26, with skull, b1000, ADC 1e-6, int16 0..4095",
            grid="soop",
            adc_unit=1e-6,
            snr=(14.0, 24.0),
            bias_strength=(0.08, 0.20),
            noise_correlation_mm=1.8,
            skull_stripped=False,
            dwi_median=600.0,
            integer_max=4095,
            max_rotation_deg=(12.0, 4.0, 6.0),
            max_translation_mm=(6.0, 8.0, 6.0),
        ),
        Domain(
            "randomised",
            "every look at once: native grids 2-6.5 mm mapped as isla predict maps scans, b700-1400, "
            "SNR 8-50, strong bias, random contrast, mimics, imperfect skull stripping",
            snr=(8.0, 50.0),
            bias_strength=(0.0, 0.3),
            gamma=(0.7, 1.3),
            noise_correlation_mm=1.0,
            max_rotation_deg=(12.0, 4.0, 6.0),
            max_translation_mm=(6.0, 8.0, 6.0),
            randomisation=RANDOMISED,
        ),
    )
}


def get_domain(domain: str | Domain) -> Domain:
    """Look a preset up by name (see :data:`DOMAINS`) or pass a :class:`Domain` through."""
    if isinstance(domain, Domain):
        return domain
    if domain not in DOMAINS:
        raise ISLAError(f"unknown simulation domain {domain!r}; use one of {', '.join(DOMAINS)}")
    return DOMAINS[domain]


def describe_domains() -> str:
    """One line per preset, for ``isla simulate --list-domains``."""
    width = max(len(name) for name in DOMAINS)
    return "\n".join(f"{name:<{width}}  {d.description}" for name, d in DOMAINS.items())
