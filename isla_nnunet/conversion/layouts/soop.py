"""The SOOP BIDS layout (Stroke Outcome Optimization Project, OpenNeuro ds004889).

``sub-X/dwi/sub-X_rec-TRACE_dwi.nii.gz`` (trace DWI b1000) and ``sub-X_rec-ADC_dwi.nii.gz`` (ADC,
1e-6 mm^2/s), both 4-D with a trailing axis of length 1; lesion masks
``sub-X_space-TRACE_desc-lesion_mask.nii.gz`` in a derivatives folder wherever it sits under the root
(or next to the images). Sessions (``sub-X_ses-Y_rec-...``) are kept in the case id. The acute-only and
chronic-only masks (``desc-lesionAcute``/``desc-lesionChronic``) are not used.

Example:
    >>> [s.case_id for s in soop_cases("ds004889")]  # doctest: +SKIP
    ['sub-1', 'sub-3', ...]
"""

from __future__ import annotations

import os

from isla_nnunet.conversion.cases import CaseSpec
from isla_nnunet.conversion.layouts.bids import cases_by_suffix


def soop_cases(root: str | os.PathLike) -> list[CaseSpec]:
    """One :class:`CaseSpec` per ``*_rec-TRACE_dwi`` image under ``root``."""
    return cases_by_suffix(root, "_rec-TRACE_dwi", "_rec-ADC_dwi", "_space-TRACE_desc-lesion_mask")
