"""The generic CSV layout: one row per case.

Columns (header row required, order free):

==============  ========  =====================================================================
column          required  meaning
==============  ========  =====================================================================
``case_id``     yes       nnU-Net case identifier
``dwi``         yes       trace DWI file or DICOM folder
``adc``         no        ADC file or DICOM folder (empty: computed from ``b0``)
``b0``          no        b = 0 image
``mask``        no        lesion mask on the DWI grid (``lesion`` and ``label`` are accepted too)
``brain_mask``  no        brain mask overriding the brain extraction method
``role``        no        ``train`` / ``test`` / ``unlabeled`` (default: train with a mask, else test)
==============  ========  =====================================================================

Relative paths are relative to the CSV file's folder. Empty cells mean "not given".

Example:
    >>> table_cases("cases.csv")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from isla_nnunet.conversion.cases import CaseSpec
from isla_nnunet.errors import ISLAError

_ALIASES = {
    "case_id": "case_id",
    "case": "case_id",
    "id": "case_id",
    "dwi": "dwi",
    "adc": "adc",
    "b0": "b0",
    "mask": "lesion",
    "lesion": "lesion",
    "label": "lesion",
    "brain_mask": "brain",
    "brain": "brain",
    "role": "role",
}


def table_cases(path: str | os.PathLike) -> list[CaseSpec]:
    """Read the CSV at ``path`` into case specs.

    Raises:
        ISLAError: missing file, missing required column, unknown column, empty case id or DWI.
    """
    path = Path(path)
    if not path.is_file():
        raise ISLAError(f"{path} does not exist: give the CSV listing the cases")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [name.strip().lower() for name in (reader.fieldnames or [])]
        unknown = [name for name in header if name not in _ALIASES]
        if unknown:
            raise ISLAError(
                f"{path.name}: unknown column {unknown[0]!r}: use case_id, dwi, adc, b0, mask, "
                "brain_mask, role"
            )
        fields = [_ALIASES[name] for name in header]
        if "case_id" not in fields or "dwi" not in fields:
            raise ISLAError(f"{path.name} needs the columns case_id and dwi: add them to the header row")
        specs = []
        for line, row in enumerate(reader, start=2):
            values = {
                field: (row.get(original) or "").strip()
                for original, field in zip(reader.fieldnames or [], fields, strict=True)
            }
            if not values["case_id"] or not values["dwi"]:
                raise ISLAError(f"{path.name} line {line}: case_id and dwi must not be empty")
            files = {
                key: _resolve(path.parent, values.get(key)) for key in ("dwi", "adc", "b0", "lesion", "brain")
            }
            specs.append(
                CaseSpec(
                    values["case_id"],
                    files["dwi"],
                    adc=files["adc"],
                    b0=files["b0"],
                    lesion=files["lesion"],
                    brain=files["brain"],
                    role=values.get("role", ""),
                )
            )
    return specs


def _resolve(folder: Path, value: str | None) -> str | None:
    if not value:
        return None
    candidate = Path(value).expanduser()
    return str(candidate if candidate.is_absolute() else folder / candidate)
