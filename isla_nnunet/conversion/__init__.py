"""Datasets -> nnU-Net raw dataset on the ISLA reference grid (``isla convert``).

Public entry points:
    discover_cases(source, layout="auto", unlabeled=False, prefix="") -> list[CaseSpec]
    convert_dataset(specs, output, num_processes=1, brain_method="auto", overwrite=False) -> ConversionSummary
    convert_case(spec, DatasetFolder(output)) -> CaseResult
"""

from isla_nnunet.conversion.case_conversion import CaseResult, convert_case
from isla_nnunet.conversion.cases import ROLES, CaseSpec
from isla_nnunet.conversion.dataset import DatasetFolder
from isla_nnunet.conversion.layouts import LAYOUTS, detect_layout, discover_cases
from isla_nnunet.conversion.runner import ConversionSummary, convert_dataset

__all__ = [
    "LAYOUTS",
    "ROLES",
    "CaseResult",
    "CaseSpec",
    "ConversionSummary",
    "DatasetFolder",
    "convert_case",
    "convert_dataset",
    "detect_layout",
    "discover_cases",
]
