"""Do a DWI, an ADC and a lesion mask come from one scan? Checks with thresholds measured on real pairs.

The field-of-view rule of :func:`isla_nnunet.io.case.on_dwi_grid` (the ADC covers half the DWI) passes
any scan near the isocentre: the SOOP ADC was accepted with the ISLES'22 DWI. After the ADC is on the
DWI grid, two measurements tell one scan from two:

- **support overlap**: the Dice of the two images' head supports (above 5 % of their 99th
  percentile, holes filled, largest component). One scan: 0.921 (SOOP sub-3, with skull), 0.997
  (ISLES'22 0009), 0.955-1.000 on 8 simulated cases of 4 domains. Crossed: ISLES'22 DWI with the SOOP
  ADC 0.646, a simulated SOOP-like DWI with the ISLES'22 ADC 0.568, simulated pairs 0.73-0.95 (the
  simulator's heads share one anatomy). Refused below :data:`MIN_SUPPORT_DICE` = 0.80.
- **anti-correlation**: on one scan, tissue that is dark on the DWI (CSF) is bright on the ADC and an
  acute lesion is the reverse, so the voxel intensities inside both supports correlate negatively:
  r = -0.552 (ISLES'22), -0.484 (SOOP), -0.715 to -0.967 (simulated). Crossed: -0.050 and -0.074 for
  the pairs above, -0.08 to -0.46 for simulated pairs. Refused above :data:`MAX_CORRELATION` = -0.25.

A lesion mask is checked against its DWI (:func:`mask_fit`): the share of its voxels inside the DWI's
head support (own masks 1.000 on the real and simulated cases; the four ISLES'22 masks of other cases
on case 0009's DWI 0.071-1.000) and its DWI contrast, the mean DWI in the mask over the median DWI of
the support (own masks 1.53-5.54; the other cases' masks 0.05-1.12, crossed simulated masks 0.58-1.50,
and 4.30 where a crossed mask happened to land on the SOOP infarct). Masks mostly outside the head
(below :data:`MIN_MASK_INSIDE`) are refused; a contrast below :data:`MIN_LESION_CONTRAST` = 1.3 is
flagged, not refused, since a mask may mark a subtle lesion. Figures of 2026-12-02 from
``python scripts/measure_pairing.py``.

The checks need a head-sized sample: images with fewer than :data:`MIN_SUPPORT_VOXELS` support voxels
(phantoms, test fixtures) are not checked. Two scans of one head taken minutes apart, or a second
subject lying in exactly the same place with near-identical anatomy, can pass; these checks catch
files from another case, not every mix-up.
"""

from __future__ import annotations

from dataclasses import dataclass

import cc3d
import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from isla_nnunet.errors import ISLAError

MIN_SUPPORT_DICE = 0.80
MAX_CORRELATION = -0.25
MIN_SUPPORT_VOXELS = 20000
MIN_MASK_INSIDE = 0.5
MIN_LESION_CONTRAST = 1.3


def head_support(values: np.ndarray) -> np.ndarray:
    """Boolean support of an image array: above 5 % of its 99th percentile, holes filled, the largest
    connected component."""
    positive = values[values > 0]
    if positive.size == 0:
        return np.zeros(values.shape, bool)
    support = ndimage.binary_fill_holes(values > 0.05 * np.percentile(positive, 99))
    return cc3d.largest_k(support, k=1, connectivity=6) > 0


@dataclass(frozen=True)
class PairAgreement:
    """How well a DWI and an ADC on its grid agree (see the module docstring)."""

    support_dice: float
    correlation: float
    checked: bool


def pair_agreement(dwi: sitk.Image, adc: sitk.Image) -> PairAgreement:
    """Support Dice and intensity correlation of ``dwi`` and ``adc`` (same grid)."""
    d = sitk.GetArrayViewFromImage(dwi).astype(np.float64)
    a = sitk.GetArrayViewFromImage(adc).astype(np.float64)
    dwi_support, adc_support = head_support(d), head_support(a)
    total = int(dwi_support.sum() + adc_support.sum())
    both = dwi_support & adc_support
    dice = 2 * int(both.sum()) / total if total else 0.0
    checked = min(int(dwi_support.sum()), int(adc_support.sum())) >= MIN_SUPPORT_VOXELS
    x, y = d[both], a[both]
    # An image without variation inside the support has no structure to agree with: r = 0.
    correlation = float(np.corrcoef(x, y)[0, 1]) if x.size > 2 and x.std() > 0 and y.std() > 0 else 0.0
    return PairAgreement(dice, correlation, checked)


def check_same_scan(dwi: sitk.Image, adc: sitk.Image, name: str = "ADC") -> PairAgreement:
    """Raise unless ``adc`` (on the DWI grid) shows the head of ``dwi``.

    Raises:
        ISLAError: support Dice below :data:`MIN_SUPPORT_DICE` or correlation above
            :data:`MAX_CORRELATION`, for head-sized images.
    """
    agreement = pair_agreement(dwi, adc)
    if not agreement.checked:
        return agreement
    if agreement.support_dice < MIN_SUPPORT_DICE:
        raise ISLAError(f"{name} does not outline the DWI's head (support overlap {agreement.support_dice:.2f}, "
                        f"one scan >= {MIN_SUPPORT_DICE:.2f}): give the {name} from the same scan as the DWI")
    if agreement.correlation > MAX_CORRELATION:
        raise ISLAError(f"{name} and DWI do not vary together as one scan's do (r = {agreement.correlation:.2f}, "
                        f"one scan <= {MAX_CORRELATION:.2f}: CSF dark on DWI, bright on ADC): give the {name} "
                        "from the same scan as the DWI")
    return agreement


@dataclass(frozen=True)
class MaskFit:
    """Where a lesion mask lies on its DWI: share inside the head, DWI contrast, whether checked."""

    inside: float
    contrast: float
    checked: bool

    @property
    def low_contrast(self) -> bool:
        return self.checked and self.contrast < MIN_LESION_CONTRAST


def mask_fit(dwi: sitk.Image, mask: sitk.Image) -> MaskFit:
    """How ``mask`` (0/1 on the DWI grid) sits on ``dwi``; an empty mask fits trivially."""
    values = sitk.GetArrayViewFromImage(dwi).astype(np.float64)
    lesion = sitk.GetArrayViewFromImage(mask) > 0
    support = head_support(values)
    if not lesion.any() or support.sum() < MIN_SUPPORT_VOXELS:
        return MaskFit(1.0, float("inf"), False)
    inside = float((lesion & support).sum() / lesion.sum())
    contrast = float(values[lesion].mean() / max(np.median(values[support]), 1e-12))
    return MaskFit(inside, contrast, True)


def check_mask_inside(fit: MaskFit, name: str) -> MaskFit:
    """Raise when most of a lesion mask lies outside its DWI's head.

    Raises:
        ISLAError: less than :data:`MIN_MASK_INSIDE` of the mask inside the head support.
    """
    if fit.checked and fit.inside < MIN_MASK_INSIDE:
        raise ISLAError(f"{name}: only {fit.inside:.0%} of the lesion lies inside the DWI's head: give the mask "
                        "drawn on this DWI")
    return fit
