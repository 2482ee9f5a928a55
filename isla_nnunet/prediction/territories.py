"""Lesion load per region of an atlas in MNI152 space: vascular territories, lobes, their groupings.

An atlas is a label image in MNI152 world coordinates (any grid) with a label table. The case's rigid
registration maps MNI152 onto the scan (the reference grid lies in MNI152 coordinates), so the atlas
is resampled once onto the native DWI grid by nearest neighbour and every native lesion voxel takes
the region at its centre; volumes are the native mask's own.

Label tables (``read_label_table``), detected from their content:

* the Johns Hopkins arterial atlas table (Liu et al., Sci Data 10, 74, 2023), recognised by its
  ``Level1_intensity`` column: the region is the full name of the first column; the levels are
  ``territory`` (``level2_bilateral``: ACA, MCA, PCA, VB, LV), ``territory_side`` (e.g. "MCA right"),
  ``major`` (``major_territories``) and ``side``. The table's own ``Level1_lables`` and
  ``Level2_labels`` columns are not used: they repeat left names for right regions (MCAPL for 9 and 10)
  and swap PCAL/PCAR, where the full names are right;
* a table with a header row naming ``value`` and ``name`` columns; every further column is a level;
* lines of ``value name`` (e.g. the lobe table beside that atlas).

Every table also gets a ``side`` level when names end in left/right, _L/_R.

The atlas must lie where the template does. :meth:`TerritoryAtlas.load` measures the Dice between
the atlas's labelled voxels and the MNI152 template brain: below :data:`ALIGNED_DICE` it moves the
atlas by the difference of the two centroids (the Johns Hopkins files sit about 25 mm off the ICBM
2009 template: Dice 0.74, 0.96 once moved) and refuses an atlas that still does not fit. The shift
and both Dice values go into the report.

Example:
    >>> table = LabelTable({1: "frontal_L", 2: "frontal_R"}, {})
    >>> table.with_sides().groups["side"]
    {1: 'left', 2: 'right'}
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.preprocessing import reference_image

ALIGNED_DICE = 0.9
"""Least Dice between an atlas's labelled voxels and the MNI152 template brain for it to be used."""

INTEGER_TOLERANCE = 0.01
OUTSIDE = "outside atlas"
_SIDE = re.compile(r"(?:^|[ _-])(left|right)$|[ _-]([lr])$", re.IGNORECASE)


@dataclass(frozen=True)
class LabelTable:
    """Region names by atlas value, and groupings of regions (level -> value -> group name)."""

    names: dict[int, str]
    groups: dict[str, dict[int, str]] = field(default_factory=dict)

    def with_sides(self) -> LabelTable:
        """The table with a ``side`` level from names ending in left/right or _L/_R (if all those have one)."""
        if "side" in self.groups:
            return self
        sides = {}
        for value, name in self.names.items():
            match = _SIDE.search(name.strip())
            if match:
                sides[value] = "left" if (match[1] or match[2]).lower() in ("left", "l") else "right"
        return LabelTable(self.names, {**self.groups, "side": sides}) if sides else self


def _rows(path: Path) -> list[list[str]]:
    text = path.read_text(encoding="utf-8", errors="replace")
    delimiter = "\t" if "\t" in text else ("," if text.count(",") > text.count(" ") else None)
    if delimiter is None:
        return [line.split(None, 1) for line in text.splitlines() if line.strip()]
    return [[cell.strip() for cell in row] for row in csv.reader(text.splitlines(), delimiter=delimiter)]


def _int(cell: str, path: Path, line: int) -> int:
    try:
        return int(float(cell))
    except ValueError:
        raise ISLAError(f"label table {path}, row {line}: {cell!r} is not a region value; give a table of "
                        "'value name' rows or one with 'value' and 'name' columns") from None


def read_label_table(path: str | os.PathLike) -> LabelTable:
    """Read a label table in one of the formats of the module docstring.

    Raises:
        ISLAError: missing file, no rows, a value that is not a number, or a value given twice.
    """
    path = Path(path)
    if not path.is_file():
        raise ISLAError(f"label table {path} not found: give the text file that names the atlas's regions")
    rows = _rows(path)
    names: dict[int, str] = {}
    groups: dict[str, dict[int, str]] = {}

    def add(value: int, name: str, line: int) -> None:
        if value in names:
            raise ISLAError(f"label table {path}: value {value} is named twice (row {line}); "
                            "give each region one row")
        names[value] = name

    header = next((i for i, row in enumerate(rows) if any(c.lower() == "level1_intensity" for c in row)), None)
    if header is not None:
        columns = [c.lower() for c in rows[header]]
        value_at, bilateral_at = columns.index("level1_intensity"), columns.index("level2_bilateral")
        major_at = columns.index("major_territories")
        for line, row in enumerate(rows[header + 1:], start=header + 2):
            if len(row) <= max(value_at, bilateral_at, major_at) or not row[value_at]:
                continue
            value = _int(row[value_at], path, line)
            add(value, row[0], line)
            groups.setdefault("territory", {})[value] = row[bilateral_at]
            groups.setdefault("major", {})[value] = row[major_at]
        table = LabelTable(names, groups).with_sides()
        sides = table.groups.get("side", {})
        table.groups["territory_side"] = {v: f"{t} {sides[v]}" if v in sides else t
                                          for v, t in table.groups["territory"].items()}
        return table
    first = [c.lower() for c in rows[0]] if rows else []
    if "value" in first and "name" in first:
        value_at, name_at = first.index("value"), first.index("name")
        levels = [(i, c) for i, c in enumerate(rows[0]) if i not in (value_at, name_at)]
        for line, row in enumerate(rows[1:], start=2):
            if len(row) <= max(value_at, name_at):
                continue
            value = _int(row[value_at], path, line)
            add(value, row[name_at], line)
            for i, level in levels:
                if i < len(row) and row[i]:
                    groups.setdefault(level, {})[value] = row[i]
    else:
        for line, row in enumerate(rows, start=1):
            if len(row) < 2:
                raise ISLAError(f"label table {path}, row {line}: expected 'value name', got {' '.join(row)!r}")
            add(_int(row[0], path, line), row[1].strip(), line)
    if not names:
        raise ISLAError(f"label table {path} names no regions: give 'value name' rows")
    return LabelTable(names, groups).with_sides()


def _coverage_dice(labels: sitk.Image, brain: sitk.Image, shift_lps=(0.0, 0.0, 0.0)) -> float:
    moved = sitk.Image(labels)
    moved.SetOrigin((np.asarray(labels.GetOrigin()) + np.asarray(shift_lps)).tolist())
    on_template = sitk.GetArrayViewFromImage(
        sitk.Resample(moved, brain, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt16)) > 0
    template = sitk.GetArrayViewFromImage(brain) > 0
    return float(2 * (on_template & template).sum() / (on_template.sum() + template.sum()))


def _centroid_lps(image: sitk.Image) -> np.ndarray:
    index = np.argwhere(sitk.GetArrayViewFromImage(image) > 0)[:, ::-1].mean(axis=0)
    return np.asarray(image.TransformContinuousIndexToPhysicalPoint(index.tolist()))


def _template_brain() -> sitk.Image:
    t1 = sitk.ReadImage(str(reference_image.template_folder() / reference_image.TEMPLATE_FILES["t1"]))
    return sitk.Cast(t1 / 255.0 > reference_image.BRAIN_THRESHOLD, sitk.sitkUInt8)


@dataclass
class TerritoryAtlas:
    """A label image aligned to MNI152 (uint16) with its table, and how it was checked."""

    name: str
    image: sitk.Image
    table: LabelTable
    alignment: dict

    @classmethod
    def load(cls, atlas: str | os.PathLike, labels: str | os.PathLike) -> TerritoryAtlas:
        """Read, check and (if needed) align an atlas; see the module docstring.

        Raises:
            ISLAError: missing or unreadable files, a 4-D or non-integer image, atlas values the
                table does not name, or an atlas that does not fit the MNI152 brain even when moved.
        """
        atlas = Path(atlas)
        if not atlas.is_file():
            raise ISLAError(f"territory atlas {atlas} not found: give a label image in MNI152 space")
        table = read_label_table(labels)
        try:
            image = sitk.ReadImage(str(atlas))
        except RuntimeError:
            raise ISLAError(f"cannot read territory atlas {atlas}: give a NIfTI label image") from None
        if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
            raise ISLAError(f"territory atlas {atlas} is not a 3-D label image (size {image.GetSize()}): "
                            "give one volume of integer regions")
        values = sitk.GetArrayFromImage(image).astype(np.float64)
        rounded = np.rint(values)
        if not np.isfinite(values).all() or np.abs(values - rounded).max() > INTEGER_TOLERANCE:
            raise ISLAError(f"territory atlas {atlas} holds non-integer values: give a label image, "
                            "not a probability map")
        if rounded.min() < 0 or rounded.max() > np.iinfo(np.uint16).max:
            raise ISLAError(f"territory atlas {atlas} has region values outside 0-65535")
        unnamed = sorted(set(np.unique(rounded).astype(int).tolist()) - {0} - set(table.names))
        if unnamed:
            raise ISLAError(f"territory atlas {atlas} has regions {unnamed[:8]} that {labels} does not name: "
                            "give the label table that belongs to this atlas")
        labelled = sitk.GetImageFromArray(rounded.astype(np.uint16))
        labelled.CopyInformation(image)
        brain = _template_brain()
        before = _coverage_dice(labelled, brain)
        shift = np.zeros(3)
        after = before
        if before < ALIGNED_DICE:
            # Only the header is off in atlases made in an "MNI-like" space: a translation fixes it.
            shift = _centroid_lps(brain) - _centroid_lps(labelled)
            after = _coverage_dice(labelled, brain, shift)
            if after < ALIGNED_DICE:
                raise ISLAError(
                    f"territory atlas {atlas} does not lie on the MNI152 brain (Dice {before:.2f}, {after:.2f} "
                    f"after moving it {np.linalg.norm(shift):.0f} mm): register it to the ICBM 2009 "
                    "template first")
            labelled.SetOrigin((np.asarray(labelled.GetOrigin()) + shift).tolist())
        alignment = {"template_brain_dice": round(before, 4), "shift_lps_mm": [round(float(s), 2) for s in shift],
                     "template_brain_dice_after_shift": round(after, 4), "shifted": bool(shift.any())}
        return cls(atlas.name.split(".")[0], labelled, table, alignment)

    def describe(self) -> str:
        """One line for the terminal."""
        moved = (f", moved {np.linalg.norm(self.alignment['shift_lps_mm']):.0f} mm onto MNI152 (template brain "
                 f"Dice {self.alignment['template_brain_dice']:.2f} -> "
                 f"{self.alignment['template_brain_dice_after_shift']:.2f})" if self.alignment["shifted"] else "")
        return f"atlas {self.name}: {len(self.table.names)} regions{moved}"


def _level_rows(volumes_ml: dict[str, float], region_ml: dict[str, float], total_ml: float) -> list[dict]:
    return [{"name": name, "volume_ml": volume,
             "percent_of_lesion": 100.0 * volume / total_ml if total_ml else 0.0,
             "percent_of_region": 100.0 * volume / region_ml[name] if region_ml.get(name) else None}
            for name, volume in sorted(volumes_ml.items(), key=lambda kv: -kv[1]) if volume > 0]


def territory_report(lesions: np.ndarray, grid: sitk.Image, registration, atlas: TerritoryAtlas) -> dict:
    """Lesion volume per region and per level of ``atlas``, and each lesion's dominant region.

    Args:
        lesions: (z, y, x) lesion numbers on the native grid (:func:`report.lesion_labels`).
        grid: the native DWI grid (spacing gives the volumes).
        registration: the case's :class:`~isla_nnunet.preprocessing.registration.Registration`.
        atlas: a loaded :class:`TerritoryAtlas`.

    Returns:
        ``{"atlas", "alignment", "levels": {level: [{name, volume_ml, percent_of_lesion,
        percent_of_region}]}, "outside_atlas_ml", "lesions": [{lesion, region, share, <level>...}]}``;
        ``percent_of_region`` is the lesion's share of the region's volume inside the scan's field of view.
    """
    regions = sitk.GetArrayFromImage(registration.from_mni(atlas.image, kind="labels")).astype(np.int64)
    voxel_ml = float(np.prod(grid.GetSpacing())) / 1000.0
    inside = lesions > 0
    total_ml = float(inside.sum()) * voxel_ml
    size = max(int(regions.max()), max(atlas.table.names)) + 1
    lesion_voxels = np.bincount(regions[inside], minlength=size)
    region_voxels = np.bincount(regions.ravel(), minlength=size)
    levels = {"region": atlas.table.names, **atlas.table.groups}
    report_levels = {}
    for level, by_value in levels.items():
        volumes: dict[str, float] = {}
        extents: dict[str, float] = {}
        for value, name in by_value.items():
            volumes[name] = volumes.get(name, 0.0) + float(lesion_voxels[value]) * voxel_ml
            extents[name] = extents.get(name, 0.0) + float(region_voxels[value]) * voxel_ml
        report_levels[level] = _level_rows(volumes, extents, total_ml)
    per_lesion = []
    for number in range(1, int(lesions.max()) + 1):
        counts = np.bincount(regions[lesions == number], minlength=size)
        value = int(np.argmax(counts))
        entry = {"lesion": number, "region": atlas.table.names.get(value, OUTSIDE),
                 "share": float(counts[value] / counts.sum())}
        for level, by_value in atlas.table.groups.items():
            entry[level] = by_value.get(value, OUTSIDE)
        per_lesion.append(entry)
    return {"atlas": atlas.name, "alignment": atlas.alignment, "levels": report_levels,
            "outside_atlas_ml": float(lesion_voxels[0]) * voxel_ml, "lesions": per_lesion}
