"""ADC from a b0 and a diffusion-weighted image when the scanner's ADC map is missing.

Mono-exponential decay S_b = S_0 exp(-b ADC) gives ADC = ln(S_0 / S_b) / b (b in s/mm^2, ADC in
mm^2/s). Voxels where either signal is not positive (background, masked-out scanner output) get ADC
0; negative results (noise where S_b > S_0) are clipped to 0. The result is in the project's unit,
:data:`isla_nnunet.io.units.CANONICAL_ADC_UNIT` (1e-6 mm^2/s).

Example:
    >>> import numpy as np, SimpleITK as sitk
    >>> s0 = sitk.GetImageFromArray(np.full((2, 2, 2), 1000.0))
    >>> sb = sitk.GetImageFromArray(np.full((2, 2, 2), 1000.0 * np.exp(-0.8)))
    >>> round(float(sitk.GetArrayFromImage(compute_adc(s0, sb, 1000.0))[0, 0, 0]))
    800
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.io.units import CANONICAL_ADC_UNIT


def compute_adc(b0: sitk.Image, diffusion_weighted: sitk.Image, b_value: float) -> sitk.Image:
    """ADC map (float32, 1e-6 mm^2/s) from ``b0`` and ``diffusion_weighted`` on the same grid.

    Args:
        b0: the b = 0 s/mm^2 image.
        diffusion_weighted: the image at ``b_value`` (trace DWI).
        b_value: b-value of ``diffusion_weighted`` in s/mm^2.

    Raises:
        ISLAError: ``b_value`` is not positive.
    """
    if not b_value > 0:
        raise ISLAError(f"cannot compute ADC with b-value {b_value}: the DWI must have b > 0 (e.g. b1000)")
    s0 = sitk.GetArrayFromImage(b0).astype(np.float64)
    sb = sitk.GetArrayFromImage(diffusion_weighted).astype(np.float64)
    valid = (s0 > 0) & (sb > 0)
    adc = np.zeros_like(s0)
    adc[valid] = np.log(s0[valid] / sb[valid]) / float(b_value)
    out = sitk.GetImageFromArray(np.clip(adc, 0.0, None).astype(np.float32) / np.float32(CANONICAL_ADC_UNIT))
    out.CopyInformation(diffusion_weighted)
    return out
