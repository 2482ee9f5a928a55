"""The QC picture of a prediction (``qc.png``): DWI and ADC at the slices with the most lesion.

Three rows (axial, coronal, sagittal), each through the slice of that orientation holding the most
lesion voxels (the brain's centre of mass when the mask is empty), and five columns: DWI, DWI with the
mask outline, ADC, ADC with the outline, and the lesion probability over the DWI. DeepISLES writes a
similar three-view screenshot of its mask (de la Rosa et al.); the probability column shows where the
models hesitate. Everything is drawn on the native grid, reoriented to LPS for display only, in the
radiological convention (patient's right on the image's left; anterior and superior up).

Example:
    >>> write_qc_png(dwi, adc, mask, probability, "out/qc.png", title="case  12.3 ml")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from isla_nnunet.io.atomic import atomic_output

OUTLINE_COLOUR = "#ff2a2a"
PROBABILITY_FLOOR = 0.01
COLUMNS = ("DWI", "DWI + mask", "ADC", "ADC + mask", "probability")


def lps_array(image: sitk.Image) -> np.ndarray:
    """``image`` as a (z, y, x) array with index axes pointing to patient Left, Posterior, Superior."""
    # Index axes pointing to patient Left, Posterior, Superior: array (z, y, x) rows run anterior ->
    # posterior and columns right -> left, which is the radiological axial view as stored.
    return sitk.GetArrayFromImage(sitk.DICOMOrient(image, "LPS"))


def most_lesion_slices(mask: np.ndarray, fallback: np.ndarray | None = None) -> tuple[int, int, int]:
    """(z, y, x) indices of the slices holding the most mask voxels in each orientation.

    Empty mask: the centre of mass of ``fallback`` (e.g. the brain mask), else the array centre.

    Example:
        >>> m = np.zeros((4, 5, 6), np.uint8); m[1, 2, 3:5] = 1; m[2, 2, 3] = 1
        >>> most_lesion_slices(m)
        (1, 2, 3)
    """
    mask = np.asarray(mask) > 0
    if mask.any():
        others = [tuple(a for a in range(3) if a != axis) for axis in range(3)]
        return tuple(int(np.argmax(mask.sum(axis=axes))) for axes in others)
    if fallback is not None and np.asarray(fallback).any():
        return tuple(int(round(c)) for c in np.argwhere(np.asarray(fallback) > 0).mean(axis=0))
    return tuple(s // 2 for s in mask.shape)


def window(image: np.ndarray) -> float:
    """Display maximum: the 99.5th percentile of the positive voxels (1 when there are none)."""
    positive = image[image > 0]
    return float(np.percentile(positive, 99.5)) if positive.size else 1.0


def write_qc_png(dwi: sitk.Image, adc: sitk.Image, mask: sitk.Image, probability: sitk.Image,
                 path: str | os.PathLike, title: str = "", brain: sitk.Image | None = None) -> Path:
    """Draw the QC picture (layout in the module docstring) and write it atomically.

    Args:
        dwi, adc, mask, probability: images on the native DWI grid (mask uint8, probability in [0, 1]).
        path: PNG destination.
        title: figure title (case, volume, pattern).
        brain: brain mask on the same grid, to centre the views when the mask is empty.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dwi_a, adc_a = lps_array(dwi), lps_array(adc)
    mask_a = lps_array(mask) > 0
    prob_a = lps_array(probability)
    brain_a = lps_array(brain) > 0 if brain is not None else None
    z, y, x = most_lesion_slices(mask_a, brain_a)
    sx, sy, sz = sitk.DICOMOrient(dwi, "LPS").GetSpacing()
    flip = slice(None, None, -1)  # coronal and sagittal: superior up
    planes = [
        ("axial", lambda a: a[z], sy / sx, f"z={z}"),
        ("coronal", lambda a: a[flip, y, :], sz / sx, f"y={y}"),
        ("sagittal", lambda a: a[flip, :, x], sz / sy, f"x={x}"),
    ]
    windows = {"DWI": window(dwi_a), "ADC": window(adc_a)}
    fig, axes = plt.subplots(3, len(COLUMNS), figsize=(3.0 * len(COLUMNS), 9.6), squeeze=False)
    shown = None
    for row, (name, cut, aspect, where) in enumerate(planes):
        outline = cut(mask_a).astype(np.float32)
        for column, label in enumerate(COLUMNS):
            ax = axes[row, column]
            background = cut(adc_a) if label.startswith("ADC") else cut(dwi_a)
            vmax = windows["ADC" if label.startswith("ADC") else "DWI"]
            ax.imshow(background, cmap="gray", vmin=0.0, vmax=vmax, aspect=aspect, interpolation="nearest")
            if label.endswith("mask") and outline.any():
                ax.contour(outline, levels=[0.5], colors=OUTLINE_COLOUR, linewidths=0.9)
            if label == "probability":
                values = np.ma.masked_less(cut(prob_a), PROBABILITY_FLOOR)
                shown = ax.imshow(values, cmap="inferno", vmin=0.0, vmax=1.0, alpha=0.85, aspect=aspect,
                                  interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(label)
            if column == 0:
                ax.set_ylabel(f"{name} ({where})")
    fig.suptitle(title + "\nradiological view: patient right on image left", fontsize=11)
    # A separate colour-bar axis keeps the probability column as large as the others.
    fig.subplots_adjust(left=0.04, right=0.91, bottom=0.02, top=0.9, wspace=0.04, hspace=0.08)
    if shown is not None:
        fig.colorbar(shown, cax=fig.add_axes([0.93, 0.3, 0.012, 0.4]), label="lesion probability")
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=72)
    plt.close(fig)
    return Path(path)
