"""Dataset layouts: turning a folder or a CSV into a list of case specs.

Layouts: ``isles22`` (:mod:`.isles22`), ``soop`` (:mod:`.soop`), ``csv`` (:mod:`.table`); ``auto`` picks
one from what it finds. ``unlabeled=True`` turns every case into a target-domain image for
``imagesUnlabeledTr`` (masks ignored), whatever the layout.

Example:
    >>> specs = discover_cases("ISLES-2022", layout="auto")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

from isla_nnunet.conversion.cases import CaseSpec, check_unique
from isla_nnunet.conversion.layouts.bids import FileIndex
from isla_nnunet.conversion.layouts.isles22 import isles22_cases
from isla_nnunet.conversion.layouts.soop import soop_cases
from isla_nnunet.conversion.layouts.table import table_cases
from isla_nnunet.errors import ISLAError

LAYOUTS = {"isles22": isles22_cases, "soop": soop_cases, "csv": table_cases}


def detect_layout(source: str | os.PathLike) -> str:
    """Name of the layout of ``source`` (a CSV file or a dataset folder).

    Raises:
        ISLAError: nothing recognisable in ``source``.
    """
    source = Path(source)
    if source.is_file() and source.suffix.lower() == ".csv":
        return "csv"
    if source.is_dir():
        index = FileIndex(source)
        if index.images("_rec-TRACE_dwi"):
            return "soop"
        if index.images("_dwi") and any(stem.endswith("_adc") for stem in index.stems()):
            return "isles22"
    raise ISLAError(f"cannot tell the layout of {source}: give --layout isles22, soop or csv")


def discover_cases(
    source: str | os.PathLike, layout: str = "auto", unlabeled: bool = False, prefix: str = ""
) -> list[CaseSpec]:
    """Case specs found in ``source``.

    Args:
        source: dataset root folder or CSV file.
        layout: "auto", "isles22", "soop" or "csv".
        unlabeled: give every case the role "unlabeled".
        prefix: prepended to every case id (keeps ids unique when datasets are merged).

    Raises:
        ISLAError: unknown layout, nothing found, duplicated ids, or layout-specific problems.
    """
    name = detect_layout(source) if layout == "auto" else layout
    if name not in LAYOUTS:
        raise ISLAError(f"unknown layout {layout!r}: use auto, {', '.join(LAYOUTS)}")
    specs = LAYOUTS[name](source)
    if not specs:
        raise ISLAError(f"no case found in {source} with the {name} layout: check the folder or --layout")
    if prefix:
        specs = [CaseSpec(prefix + s.case_id, s.dwi, s.adc, s.b0, s.lesion, s.brain, s.role) for s in specs]
    if unlabeled:
        specs = [s.with_role("unlabeled") for s in specs]
    return check_unique(specs)
