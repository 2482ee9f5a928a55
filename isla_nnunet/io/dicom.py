"""DICOM series folders: one series per folder, split into volumes by b-value when needed.

Scanners often store a DWI series as interleaved b=0 and b=1000 slices at the same positions (one
series, several volumes). The slices are grouped by their b-value tag and each group is read as one
volume. Tags looked at, first found wins: DiffusionBValue (0018,9087, standard), Siemens (0019,100C),
GE (0043,1039, first value, with GE's optional 10^9 offset removed) and Philips (2001,1003).

Example:
    >>> volumes = read_dicom_volumes("patient/DWI")  # doctest: +SKIP
    >>> [(v.GetSize(), b) for v, b in volumes]  # doctest: +SKIP
    [((256, 256, 26), 0.0), ((256, 256, 26), 1000.0)]
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import SimpleITK as sitk

from isla_nnunet.errors import ISLAError

B_VALUE_TAGS = ("0018|9087", "0019|100c", "0043|1039", "2001|1003")
_POSITION_TAG = "0020|0032"
_GE_B_OFFSET = 1_000_000_000


def _b_value(reader: sitk.ImageFileReader) -> float | None:
    for tag in B_VALUE_TAGS:
        if reader.HasMetaDataKey(tag):
            text = reader.GetMetaData(tag).replace("\\", " ").split()
            try:
                value = float(text[0])
            except (IndexError, ValueError):
                continue
            return value % _GE_B_OFFSET
    return None


def read_dicom_volumes(folder: str | os.PathLike) -> list[tuple[sitk.Image, float | None]]:
    """3-D volumes of the single DICOM series in ``folder`` with their b-values (None when untagged).

    Volumes come sorted by b-value. A series whose slices repeat positions without b-value tags
    cannot be split and is refused.

    Raises:
        ISLAError: no series, several series, or repeated slice positions that cannot be grouped.
    """
    folder = Path(folder)
    series_ids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    if not series_ids:
        raise ISLAError(f"no DICOM series found in {folder}: point to the folder holding the DICOM files")
    if len(series_ids) > 1:
        raise ISLAError(
            f"{folder} holds {len(series_ids)} DICOM series: put each series (DWI, ADC) in its own folder"
        )
    files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), series_ids[0])

    groups: dict[float | None, list[str]] = defaultdict(list)
    positions: dict[float | None, set[tuple]] = defaultdict(set)
    for name in files:
        reader = sitk.ImageFileReader()
        reader.SetFileName(name)
        reader.LoadPrivateTagsOn()
        reader.ReadImageInformation()
        b_value = _b_value(reader)
        if reader.HasMetaDataKey(_POSITION_TAG):
            key = tuple(round(float(v), 3) for v in reader.GetMetaData(_POSITION_TAG).split("\\"))
        else:
            key = (name,)
        if key in positions[b_value]:
            raise ISLAError(
                f"DICOM series in {folder} repeats slice positions without distinguishing b-value tags: "
                "export one folder per volume (b1000 trace, ADC)"
            )
        positions[b_value].add(key)
        groups[b_value].append(name)

    volumes = []
    for b_value in sorted(groups, key=lambda b: -1.0 if b is None else b):
        series_reader = sitk.ImageSeriesReader()
        series_reader.SetFileNames(groups[b_value])
        image = series_reader.Execute()
        volumes.append((image, b_value))
    return volumes
