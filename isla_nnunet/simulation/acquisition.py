"""Scanner effects: receive bias, Rician noise, scanner-side ADC computation, contrast, units, storage.

The noise-free b=0 and b-value signals from :func:`isla_nnunet.simulation.anatomy.diffusion_images`
are multiplied by one smooth receive-bias field (the same coil sees both), get independent complex
Gaussian noise and are stored as magnitudes, which makes the noise Rician (Gudbjartsson & Patz, MRM
1995;34:910-914). The ADC is then computed voxel-wise from the two noisy magnitudes, so the bias
cancels in the ADC while the noise does not, as on a scanner. The DWI finally gets the domain's gamma
and intensity scale; the ADC is stored in the domain's units.

Example:
    >>> import numpy as np
    >>> from isla_nnunet.simulation import anatomy, geometry
    >>> from isla_nnunet.simulation.acquisition import acquire
    >>> from isla_nnunet.simulation.domains import get_domain
    >>> grid = geometry.get_grid("reference")
    >>> fractions = anatomy.tissue_fractions(grid, grid.affine())
    >>> clean = anatomy.diffusion_images(fractions, b_value=800.0)
    >>> brain = sum(fractions.values()) >= 0.5
    >>> rng = np.random.default_rng(0)
    >>> dwi, adc = acquire(clean, brain, brain, get_domain("target").sample(rng), grid.spacing_xyz, rng)
    >>> 700 < float(np.median(adc[brain])) < 1300   # ADC stored in 1e-6 mm^2/s
    True
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from isla_nnunet.simulation.anatomy import TISSUES, DiffusionImages
from isla_nnunet.simulation.domains import Acquisition

# Largest ADC a scanner stores (free water ~3e-3 plus noise); real maps in ../shared/data top out near 4e-3.
ADC_MAX = 4.0e-3
# Scanners leave the ADC at 0 where the b=0 signal is too weak to fit (skull, air).
_ADC_SIGNAL_FLOOR = 0.25


def _bias_field(shape, spacing_xyz, support: np.ndarray, strength: float, rng: np.random.Generator):
    # A random cubic polynomial of position varies over the head's scale, like a coil's receive profile.
    axes = [
        (np.arange(n, dtype=np.float32) - (n - 1) / 2) * np.float32(s / 100.0)
        for n, s in zip(shape, spacing_xyz, strict=True)
    ]
    x, y, z = axes[0][:, None, None], axes[1][None, :, None], axes[2][None, None, :]
    log_field = np.zeros(shape, dtype=np.float32)
    for i in range(4):
        for j in range(4 - i):
            for k in range(4 - i - j):
                if i + j + k:
                    log_field += np.float32(rng.normal()) * (x**i * y**j * z**k)
    values = log_field[support]
    spread = float(values.std()) if values.size else 0.0
    if spread == 0.0:
        return np.ones(shape, dtype=np.float32)
    return np.exp(np.float32(strength / spread) * (log_field - np.float32(values.mean())))


def _complex_noise(shape, sigma: float, correlation_voxels, rng: np.random.Generator):
    real = rng.standard_normal(shape, dtype=np.float32)
    imag = rng.standard_normal(shape, dtype=np.float32)
    if correlation_voxels is not None:
        # Smoothing lowers the noise level; rescale by the kernel's norm to keep sigma.
        impulse = np.zeros((31, 31, 1), dtype=np.float32)
        impulse[15, 15, 0] = 1.0
        norm = float(np.sqrt(np.sum(ndimage.gaussian_filter(impulse, correlation_voxels) ** 2)))
        real = ndimage.gaussian_filter(real, correlation_voxels) / np.float32(norm)
        imag = ndimage.gaussian_filter(imag, correlation_voxels) / np.float32(norm)
    return real * np.float32(sigma), imag * np.float32(sigma)


def acquire(
    images: DiffusionImages,
    brain: np.ndarray,
    field_of_view: np.ndarray,
    acquisition: Acquisition,
    spacing_xyz,
    rng: np.random.Generator,
    *,
    keep: np.ndarray | None = None,
    dwi_curve: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Turn noise-free signals into stored DWI and ADC arrays.

    Args:
        images: noise-free b=0 / b-value signals (white matter S0 = 1).
        brain: boolean brain mask; sets the intensity statistics and, when the acquisition is
            skull-stripped, the region kept.
        field_of_view: boolean mask of the imaged head; outside it both outputs are 0, as in the
            scanner-masked maps of real data.
        acquisition: the scan's settings.
        spacing_xyz: voxel spacing in mm.
        rng: noise and bias-field generator.
        keep: region the stored images keep (default: ``brain`` when skull-stripped, else
            ``field_of_view``), e.g. an imperfect skull stripping's mask.
        dwi_curve: monotone map applied to the DWI normalised to its brain median, after the gamma
            (a vendor's windowing).

    Returns:
        ``(dwi, adc)``: float32, or int16 when ``acquisition.integer_max`` is set; ADC in
        ``acquisition.adc_unit`` units.
    """
    shape = images.s0.shape
    if keep is None:
        keep = brain if acquisition.skull_stripped else field_of_view
    bias = _bias_field(shape, spacing_xyz, keep, acquisition.bias_strength, rng)
    wm = TISSUES["wm"]
    sigma = wm.s0 * np.exp(-acquisition.b_value * wm.adc) / acquisition.snr
    correlation = None
    if acquisition.noise_correlation_mm > 0:
        correlation = tuple(acquisition.noise_correlation_mm / s / 2.355 for s in spacing_xyz[:2]) + (0.0,)
    magnitudes = []
    for clean in (images.s0, images.dwi):
        real, imag = _complex_noise(shape, sigma, correlation, rng)
        real += clean * bias
        magnitudes.append(np.sqrt(real * real + imag * imag))
    s0, dwi = magnitudes

    fitted = (s0 > _ADC_SIGNAL_FLOOR * wm.s0) & keep
    adc = np.zeros(shape, dtype=np.float32)
    adc[fitted] = np.log(s0[fitted] / np.maximum(dwi[fitted], 1e-6)) / np.float32(acquisition.b_value)
    np.clip(adc, 0.0, ADC_MAX, out=adc)

    reference_level = np.float32(np.median(dwi[brain])) if brain.any() else np.float32(1.0)
    dwi = (dwi / reference_level) ** np.float32(acquisition.gamma)
    if dwi_curve is not None:
        dwi = dwi_curve(dwi)
    dwi = dwi * np.float32(acquisition.dwi_median)
    dwi[~keep] = 0.0
    adc /= np.float32(acquisition.adc_unit)
    if acquisition.integer_max is not None:
        return _to_int16(dwi, acquisition.integer_max), _to_int16(adc, acquisition.integer_max)
    return dwi.astype(np.float32), adc


def _to_int16(values: np.ndarray, top: int) -> np.ndarray:
    return np.clip(np.rint(values), 0, top).astype(np.int16)
