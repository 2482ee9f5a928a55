"""ADC units: detecting the convention a file uses and converting to the project's one.

ADC maps come in several conventions: 1e-3 mm^2/s (ISLES'22: brain values around 0.8), 1e-6 mm^2/s
(DICOM from most vendors, SOOP: around 800), mm^2/s (FSL-style: around 0.0008) and m^2/s (around
8e-10). The unit is told apart by the median of the positive voxels, which sits near the ADC of
normal parenchyma whatever the convention: 0.7-0.9 x 1e-3 mm^2/s in adult grey and white matter
(Helenius et al., AJNR 23:194-199, 2002), pulled up a little by CSF (free water at body temperature,
about 3.0e-3 mm^2/s; Mills, J. Phys. Chem. 77:685, 1973).

Everything the project writes uses :data:`CANONICAL_ADC_UNIT` = 1e-6 mm^2/s, so an absolute rule such
as "ADC < 620 x 1e-6 mm^2/s" reads the same on every case.

Example:
    >>> import numpy as np
    >>> detect_adc_unit(np.full(10, 0.85))
    0.001
    >>> detect_adc_unit(np.full(10, 1170.0))
    1e-06
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError

CANONICAL_ADC_UNIT = 1e-6
"""mm^2/s per stored value in every ADC this project writes."""

ADC_UNIT_NAMES: dict[float, str] = {
    1.0: "mm^2/s",
    1e-3: "1e-3 mm^2/s",
    1e-6: "1e-6 mm^2/s",
    1e6: "m^2/s",
}

# Median of the positive voxels of an ADC map, in mm^2/s, accepted as "a plausible ADC": wide enough for
# skull-stripped maps and whole-head maps with CSF, narrow enough that a DWI passed as ADC is refused.
PLAUSIBLE_MEDIAN_MM2_S = (0.3e-3, 2.5e-3)


def detect_adc_unit(adc: np.ndarray | sitk.Image, mask: np.ndarray | None = None, name: str = "ADC") -> float:
    """Unit of an ADC map as mm^2/s per stored value (a key of :data:`ADC_UNIT_NAMES`).

    Args:
        adc: the ADC values (array or SimpleITK image).
        mask: optional boolean array of the same shape restricting the voxels looked at (e.g. brain).
        name: how to call the image in error messages (e.g. its file name).

    Raises:
        ISLAError: no positive voxels, or a median that fits no known convention (e.g. a DWI given as ADC).
    """
    values = sitk.GetArrayViewFromImage(adc) if isinstance(adc, sitk.Image) else np.asarray(adc)
    if mask is not None:
        values = values[np.asarray(mask, dtype=bool)]
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        raise ISLAError(f"{name} has no positive values: check that the file is an ADC map")
    median = float(np.median(values))
    low, high = PLAUSIBLE_MEDIAN_MM2_S
    for unit in ADC_UNIT_NAMES:
        if low <= median * unit <= high:
            return unit
    raise ISLAError(
        f"{name} median {median:.4g} fits no known ADC unit (1e-3 or 1e-6 mm^2/s, mm^2/s, m^2/s): "
        "check that the file is an ADC map and not a DWI"
    )


def to_canonical_adc(adc: sitk.Image, unit: float) -> sitk.Image:
    """``adc`` (stored in ``unit`` mm^2/s per value) as float32 in :data:`CANONICAL_ADC_UNIT`."""
    return sitk.Cast(adc, sitk.sitkFloat32) * float(unit / CANONICAL_ADC_UNIT)
