"""The ADC check: predicted lesions must show restricted diffusion.

An acute infarct is bright on DWI *because* water diffusion is restricted there, so its ADC lies below
that of normal parenchyma (a drop of roughly 30-50% in the first days; Schlaug et al., Neurology
1997;49:113-119). Bright DWI with a normal or raised ADC is T2 shine-through, a susceptibility
artefact or an old infarct (Burdette et al., Radiology 1999;212:333-339). The check keeps a predicted
lesion (26-connected component) only when its median ADC is below the median ADC of the case's
normal-appearing parenchyma; the threshold is that definition, a ratio of exactly 1, not a value fitted
to any case.

Normal-appearing parenchyma: brain-mask voxels outside every predicted lesion whose ADC lies in
(0, :data:`CSF_ADC_CUT`), which leaves out CSF (free water, about 3.0e-3 mm^2/s) and most voxels
partial-volumed with it, whereas grey and white matter lie at 0.7-0.9e-3 mm^2/s (Helenius et al.,
AJNR 2002;23:194-199).

Example:
    >>> import numpy as np
    >>> adc = np.full((1, 4, 8), 800.0)
    >>> adc[0, 1:3, 1:3] = 500.0           # restricted: kept
    >>> adc[0, 1:3, 5:7] = 1000.0          # bright on DWI, ADC raised: removed
    >>> mask = adc != 800.0
    >>> result = check_restricted_diffusion(mask, adc, np.ones_like(mask))
    >>> int(result.mask.sum()), result.parenchyma_adc, [round(c.ratio, 2) for c in result.removed]
    (4, 800.0, [1.25])
"""

from __future__ import annotations

from dataclasses import dataclass

import cc3d
import numpy as np
from scipy import ndimage

from isla_nnunet.errors import ISLAError
from isla_nnunet.evaluation.metrics import CONNECTIVITY
from isla_nnunet.io.units import CANONICAL_ADC_UNIT

CSF_ADC_CUT = 1500.0
"""1e-6 mm^2/s: voxels at or above it are not counted as parenchyma (CSF lies near 3000)."""


@dataclass(frozen=True)
class CheckedLesion:
    """One predicted lesion as the check saw it: size, median ADC (1e-6 mm^2/s) and its ratio to parenchyma."""

    voxels: int
    median_adc: float
    ratio: float

    def to_dict(self, voxel_ml: float) -> dict:
        return {"volume_ml": round(self.voxels * voxel_ml, 4), "voxels": self.voxels,
                "median_adc": round(self.median_adc, 1), "adc_ratio": round(self.ratio, 3)}


@dataclass(frozen=True)
class ADCCheck:
    """The checked mask, the parenchyma's median ADC and the lesions kept and removed."""

    mask: np.ndarray
    parenchyma_adc: float
    kept: tuple[CheckedLesion, ...]
    removed: tuple[CheckedLesion, ...]

    def to_dict(self, voxel_ml: float) -> dict:
        """report.json's ``prediction.adc_check`` entry."""
        return {"rule": "keep a lesion whose median ADC < the median ADC of normal-appearing parenchyma",
                "parenchyma_median_adc": round(self.parenchyma_adc, 1), "adc_unit_mm2_per_s": CANONICAL_ADC_UNIT,
                "kept": len(self.kept),
                "removed": [lesion.to_dict(voxel_ml) for lesion in self.removed]}


def check_restricted_diffusion(mask: np.ndarray, adc: np.ndarray, brain: np.ndarray) -> ADCCheck:
    """Remove the predicted lesions whose median ADC is not below normal-appearing parenchyma's.

    Args:
        mask: predicted lesion mask, (z, y, x), any dtype (non-zero = lesion).
        adc: ADC on the same grid in 1e-6 mm^2/s (what :func:`isla_nnunet.io.load_case` gives).
        brain: brain mask on the same grid (non-zero = brain).

    Returns:
        :class:`ADCCheck`; its ``mask`` is a bool array of ``mask``'s shape.

    Raises:
        ISLAError: the arrays differ in shape, or the brain holds no parenchyma-like ADC to compare with.
    """
    mask, brain = np.asarray(mask) != 0, np.asarray(brain) != 0
    adc = np.asarray(adc, dtype=np.float64)
    if not mask.shape == adc.shape == brain.shape:
        raise ISLAError(f"ADC check: mask {mask.shape}, ADC {adc.shape} and brain {brain.shape} differ in shape")
    parenchyma = brain & ~mask & (adc > 0) & (adc < CSF_ADC_CUT)
    if not parenchyma.any():
        raise ISLAError("ADC check: no brain voxel outside the lesions has a parenchyma-like ADC "
                        f"(0-{CSF_ADC_CUT:g} x 1e-6 mm^2/s); check the ADC map or run without --adc-check")
    reference = float(np.median(adc[parenchyma]))
    labels, count = cc3d.connected_components(mask, connectivity=CONNECTIVITY, return_N=True)
    numbers = np.arange(1, count + 1)
    medians = np.atleast_1d(ndimage.median(adc, labels, numbers)) if count else np.zeros(0)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    keep = np.concatenate([[False], medians < reference])
    lesions = [CheckedLesion(int(size), float(median), float(median) / reference)
               for size, median in zip(sizes, medians, strict=True)]
    return ADCCheck(keep[labels], reference, tuple(les for les, k in zip(lesions, keep[1:], strict=True) if k),
                    tuple(les for les, k in zip(lesions, keep[1:], strict=True) if not k))
