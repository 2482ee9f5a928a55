"""The ISLES'22 BIDS layout.

``rawdata/sub-X/ses-Y/dwi/sub-X_ses-Y_dwi.nii.gz`` (trace DWI) and ``..._adc.nii.gz`` (ADC, 1e-3 mm^2/s),
``derivatives/sub-X/ses-Y/sub-X_ses-Y_msk.nii.gz`` (lesion mask). Files are matched by name anywhere under
the root (see :mod:`.bids`); the case id is ``sub-X_ses-Y``. A DWI without a mask becomes a test case.

Example:
    >>> [s.case_id for s in isles22_cases("ISLES-2022")]  # doctest: +SKIP
    ['sub-strokecase0001_ses-0001', ...]
"""

from __future__ import annotations

import os

from isla_nnunet.conversion.cases import CaseSpec
from isla_nnunet.conversion.layouts.bids import cases_by_suffix


def isles22_cases(root: str | os.PathLike) -> list[CaseSpec]:
    """One :class:`CaseSpec` per ``*_dwi`` image under ``root`` (masks from derivatives when present)."""
    return cases_by_suffix(root, "_dwi", "_adc", "_msk")
