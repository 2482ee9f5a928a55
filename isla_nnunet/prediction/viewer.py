"""``viewer.html``: one self-contained page to scroll a case with its mask, probability and lesions.

The page (template ``viewer_page.html``) needs no network and works from ``file://``: its script and
style are inline and the case travels inside it as JSON. DWI and ADC are windowed to 8 bits (0 to the
99.5th percentile of the positive voxels, as the QC picture), the probability is stored as
round(255 p), and the written mask as 0/1; each volume is gzip-compressed and base64-encoded and the
browser inflates it with ``DecompressionStream``. A 256 x 256 x 30 case makes a page of about 1-2 MB.

The volumes are reoriented to LPS for display (as :mod:`.qc`): axial, coronal and sagittal views in
the radiological convention, each scaled by its voxel spacing. The threshold slider outlines
``probability > threshold`` and counts its volume; at 0.50 it shows and counts the written mask. The
lesion table's rows move the three views to each lesion's centroid.

Example:
    >>> write_viewer(dwi, adc, mask, probability, lesions, "out/viewer.html", title="case")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import gzip
import html
import json
import os
from importlib import resources
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from isla_nnunet.io.atomic import write_text_atomic
from isla_nnunet.prediction.qc import lps_array, most_lesion_slices, window
from isla_nnunet.prediction.report import Lesion, lesion_labels

TEMPLATE = "viewer_page.html"


def _pack(array: np.ndarray) -> str:
    return base64.b64encode(gzip.compress(np.ascontiguousarray(array, dtype=np.uint8).tobytes(), 6)).decode()


def _eight_bit(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image / window(image) * 255.0), 0, 255).astype(np.uint8)


def lesion_slices(mask: sitk.Image) -> dict[int, list[int]]:
    """Lesion number -> (z, y, x) of its centroid in the LPS-oriented arrays the page shows."""
    labels = sitk.GetImageFromArray(lesion_labels(mask).astype(np.uint16))
    labels.CopyInformation(mask)
    oriented = lps_array(labels)
    out = {}
    for number in range(1, int(oriented.max()) + 1):
        out[number] = [int(round(c)) for c in np.argwhere(oriented == number).mean(axis=0)]
    return out


def viewer_data(dwi: sitk.Image, adc: sitk.Image, mask: sitk.Image, probability: sitk.Image,
                lesions: list[Lesion], territories: list[dict] = (), brain: sitk.Image | None = None) -> dict:
    """What the page embeds: shape, spacing, voxel volume, start slices, volumes, lesion rows."""
    mask_a = lps_array(mask) > 0
    slices = lesion_slices(mask)
    rows = []
    for lesion in lesions:
        regions = [report["lesions"][lesion.lesion - 1]["region"] for report in territories]
        rows.append({"lesion": lesion.lesion, "volume_ml": lesion.volume_ml,
                     "max_probability": lesion.max_probability, "centroid_ras_mm": list(lesion.centroid_ras_mm),
                     "slices": slices[lesion.lesion], "territories": regions})
    brain_a = lps_array(brain) > 0 if brain is not None else None
    return {
        "shape": list(mask_a.shape),
        "spacing": list(sitk.DICOMOrient(mask, "LPS").GetSpacing()),
        "voxel_ml": float(np.prod(mask.GetSpacing())) / 1000.0,
        "start": list(most_lesion_slices(mask_a, brain_a)),
        "lesions": rows,
        "volumes": {"dwi": _pack(_eight_bit(lps_array(dwi))), "adc": _pack(_eight_bit(lps_array(adc))),
                    "probability": _pack(np.rint(np.clip(lps_array(probability), 0, 1) * 255)),
                    "mask": _pack(mask_a)},
    }


def render(data: dict, title: str, territory_names: list[str] = ()) -> str:
    """The page's HTML for ``data`` (:func:`viewer_data`)."""
    page = resources.files("isla_nnunet.prediction").joinpath(TEMPLATE).read_text(encoding="utf-8")
    # "</" cannot end the JSON's script element early once escaped.
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    header = "".join(f"<th>{html.escape(name)}</th>" for name in territory_names)
    return (page.replace("__TITLE__", html.escape(title)).replace("__TERRITORY_HEADER__", header)
            .replace("__DATA__", payload))


def write_viewer(dwi: sitk.Image, adc: sitk.Image, mask: sitk.Image, probability: sitk.Image,
                 lesions: list[Lesion], path: str | os.PathLike, title: str = "",
                 territories: list[dict] = (), brain: sitk.Image | None = None) -> Path:
    """Write the viewer page of a case atomically.

    Args:
        dwi, adc, mask, probability: images on the native DWI grid (mask uint8, probability in [0, 1]).
        lesions: the mask's lesion table (:func:`isla_nnunet.prediction.report.lesion_table`).
        path: destination, usually ``viewer.html`` in the case folder.
        title: the page title (case, volume, pattern).
        territories: territory reports; each adds the dominant region as a lesion-table column.
        brain: brain mask, to centre the views when the mask is empty.
    """
    data = viewer_data(dwi, adc, mask, probability, lesions, territories, brain)
    names = [f"{report['atlas']} region" for report in territories]
    return write_text_atomic(path, render(data, title, names))


INDEX_STYLE = ("body{font-family:system-ui,sans-serif;margin:16px}table{border-collapse:collapse;font-size:13px}"
               "th,td{border:1px solid #bbb;padding:4px 10px;text-align:left}tr.flagged{background:#fde2e2}"
               "tr.failed{background:#eee;color:#777}")


def write_index(root: str | os.PathLike, outcomes) -> Path:
    """``index.html`` of a batch: one row per case (volume, count, pattern, QC), linking its viewer.

    Args:
        root: the batch's output folder; links are relative to it.
        outcomes: :class:`isla_nnunet.prediction.batch.CaseOutcome` objects in input order.
    """
    root = Path(root)
    rows = []
    for outcome in outcomes:
        lesion = (outcome.report or {}).get("lesion", {})
        viewer = outcome.output / "viewer.html"
        name = html.escape(outcome.case_id)
        link = (f'<a href="{html.escape(viewer.relative_to(root).as_posix())}">{name}</a>'
                if viewer.exists() and viewer.is_relative_to(root) else name)
        qc = "" if outcome.report is None else "failed" if outcome.registration_failed else "passed"
        kind = "failed" if outcome.status == "failed" else "flagged" if qc == "failed" else ""
        volume = lesion.get("total_volume_ml")
        cells = [link, html.escape(outcome.status), "" if volume is None else f"{volume:.2f}",
                 html.escape(str(lesion.get("count", ""))), html.escape(lesion.get("stroke_pattern", "")), qc,
                 html.escape(outcome.error)]
        rows.append(f'<tr class="{kind}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    header = "".join(f"<th>{h}</th>" for h in ("case", "status", "lesion volume (ml)", "lesions", "pattern",
                                                "registration QC", "error"))
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>isla predict: {len(rows)} cases'
            f"</title><style>{INDEX_STYLE}</style></head><body><h1>isla predict: {len(rows)} cases</h1>"
            f'<table id="cases"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            "</body></html>\n")
    return write_text_atomic(root / "index.html", page)
