"""Registration quality control: a numeric score per case and a three-plane picture.

Score: the normalized cross-correlation (Pearson r) between the registered, brain-masked DWI and the
reference DWI over the voxels of the reference brain mask that the native scan covers. A shifted or
rotated brain puts background and CSF against tissue and lowers it.

Threshold :data:`NCC_THRESHOLD` = 0.30, measured on the two development cases: correct registrations
score 0.45-0.46 (SOOP sub-3, head with a 160 ml lesion) and 0.48-0.49 (ISLES'22 case 0009); the same cases
deliberately displaced by 12 mm, or by 10 degrees plus 5 mm, score 0.24-0.30; 5 mm or 10 degrees alone
0.41-0.44. A flag therefore marks gross failures (>= 1 cm); look at the picture of every flagged case.

Example:
    >>> score = registration_score(registered_dwi, native_fov_on_reference)  # doctest: +SKIP
    >>> write_qc_png(registered_dwi, "qc/case.png", title=f"case  NCC {score:.2f}")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from isla_nnunet.io.atomic import atomic_output
from isla_nnunet.preprocessing import reference_image

NCC_THRESHOLD = 0.30


def registration_score(registered_dwi: sitk.Image, native_coverage: sitk.Image) -> float:
    """NCC between ``registered_dwi`` (reference grid, 0 outside the brain) and the reference DWI.

    Args:
        registered_dwi: brain-masked DWI mapped to the reference grid.
        native_coverage: reference-grid mask of where the native field of view lies.

    Returns:
        Pearson r in [-1, 1]; 0.0 when fewer than 100 voxels overlap (no meaningful score).
    """
    reference = sitk.GetArrayFromImage(reference_image.image())
    region = (sitk.GetArrayFromImage(reference_image.brain_mask()) > 0) & (
        sitk.GetArrayViewFromImage(native_coverage) > 0
    )
    if region.sum() < 100:
        return 0.0
    moving = sitk.GetArrayViewFromImage(registered_dwi)[region].astype(np.float64)
    fixed = reference[region].astype(np.float64)
    if moving.std() == 0 or fixed.std() == 0:
        return 0.0
    return float(np.corrcoef(moving, fixed)[0, 1])


def write_qc_png(registered_dwi: sitk.Image, path: str | os.PathLike, title: str) -> Path:
    """Three planes (axial, coronal, sagittal) through the reference brain centre, written atomically.

    The registered DWI is shown in grey with the outline of the reference brain mask in red; good
    registrations have the brain sitting inside the outline in all three planes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image = sitk.GetArrayViewFromImage(registered_dwi)
    mask = sitk.GetArrayFromImage(reference_image.brain_mask()) > 0
    z, y, x = (int(round(c)) for c in np.argwhere(mask).mean(axis=0))
    sx, sy, sz = registered_dwi.GetSpacing()
    vmax = float(np.percentile(image[mask], 99.5)) if mask.any() and image[mask].any() else 1.0
    # Arrays are (z, y, x) with y towards anterior and z towards superior; flip rows so that anterior
    # (axial) and superior (coronal, sagittal) point up, radiological convention left-right.
    planes = [
        ("axial", image[z][::-1], mask[z][::-1], sy / sx),
        ("coronal", image[:, y][::-1], mask[:, y][::-1], sz / sx),
        ("sagittal", image[:, :, x][::-1], mask[:, :, x][::-1], sz / sy),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.6))
    for ax, (name, plane, outline, aspect) in zip(axes, planes, strict=True):
        ax.imshow(plane, cmap="gray", vmin=0.0, vmax=vmax, aspect=aspect, interpolation="nearest")
        ax.contour(outline, levels=[0.5], colors="red", linewidths=0.8)
        ax.set_title(name)
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)
    return Path(path)
