"""b-values of diffusion files and the choice of the b1000 trace among several volumes.

Where b-values come from, first found wins: the ``bvalues`` argument; a FSL/BIDS ``.bval`` file beside
the image (same name, ``.bval`` instead of the image suffix); ``DiffusionBValue`` in the BIDS JSON
sidecar (a number or a list); the DICOM tags (see :mod:`isla_nnunet.io.dicom`).

A file with several volumes is reduced to one trace image: the volumes whose b-value is closest to
1000 s/mm^2 (among b >= :data:`MIN_DIFFUSION_B`) are combined by geometric mean, which is the trace
when they are diffusion directions; volumes with b <= :data:`MAX_B0` are averaged into a b0 image.
Some scanners label the trace b=800 (ISLES'22 Philips cases): that is accepted as the "b1000" volume.

Example:
    >>> read_bvalues("sub-1_dwi.nii.gz", n_volumes=1)  # doctest: +SKIP
    [1000.0]
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.io.dicom import read_dicom_volumes
from isla_nnunet.io.images import image_suffix, read_volumes

TARGET_B = 1000.0
MIN_DIFFUSION_B = 500.0
# Beyond the strongest research protocols (b ~ 10,000-30,000 s/mm^2): larger is a unit error.
MAX_B = 50000.0
MAX_B0 = 50.0


def _sidecar(path: Path, suffix: str) -> Path:
    return path.with_name(path.name[: -len(image_suffix(path))] + suffix)


def read_bvalues(path: str | os.PathLike, n_volumes: int) -> list[float] | None:
    """b-values of the ``n_volumes`` volumes in image file ``path`` from its sidecars, or None.

    Raises:
        ISLAError: a sidecar lists a number of b-values different from ``n_volumes``.
    """
    path = Path(path)
    values: list[float] | None = None
    source = None
    bval = _sidecar(path, ".bval")
    sidecar = _sidecar(path, ".json")
    if bval.is_file():
        values, source = [float(v) for v in bval.read_text().split()], bval
    elif sidecar.is_file():
        entry = json.loads(sidecar.read_text()).get("DiffusionBValue")
        if entry is not None:
            values, source = [float(v) for v in np.atleast_1d(entry)], sidecar
    if values is not None:
        check_bvalues(values, source.name)
    if values is not None and len(values) != n_volumes:
        raise ISLAError(
            f"{source.name} lists {len(values)} b-values for {n_volumes} volumes in {path.name}: "
            "fix the sidecar"
        )
    return values


def check_bvalues(values: list[float], source: str) -> list[float]:
    """``values`` if each is a b-value in s/mm^2 (finite, 0 to :data:`MAX_B`), else raise.

    Example:
        >>> check_bvalues([0, 1000], "--bvalues")
        [0, 1000]
        >>> check_bvalues([0, float("nan")], "--bvalues")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        isla_nnunet.errors.ISLAError: --bvalues: nan is not a b-value (finite, 0 to 50000 s/mm^2): ...
    """
    for value in values:
        if not np.isfinite(value) or not 0 <= value <= MAX_B:
            raise ISLAError(f"{source}: {value:g} is not a b-value (finite, 0 to {MAX_B:g} s/mm^2): give the "
                            "b-value of each volume in s/mm^2, e.g. 0 1000")
    return values


@dataclass
class DiffusionVolumes:
    """The trace DWI chosen from a diffusion file, its b-value and the b0 when the file holds one."""

    trace: sitk.Image
    b_value: float | None
    b0: sitk.Image | None


def read_diffusion(path: str | os.PathLike, bvalues: list[float] | None = None) -> DiffusionVolumes:
    """Read a DWI file or DICOM folder and return its b1000 trace (and b0 when present).

    Args:
        path: image file or DICOM series folder.
        bvalues: b-values per volume, overriding sidecars and DICOM tags.

    Raises:
        ISLAError: several volumes with unknown b-values, no diffusion-weighted volume, a 3-D DWI whose
            metadata says b < 500, or a ``bvalues`` list of the wrong length.
    """
    path = Path(path)
    if path.is_dir():
        pairs = read_dicom_volumes(path)
        volumes = [v for v, _ in pairs]
        found = [b for _, b in pairs]
        known = None if any(b is None for b in found) else check_bvalues(found, f"{path.name} (DICOM)")
    else:
        volumes = read_volumes(path)
        known = read_bvalues(path, len(volumes))
    if bvalues is not None:
        if len(bvalues) != len(volumes):
            raise ISLAError(
                f"{len(bvalues)} b-values given for {len(volumes)} volumes in {path.name}: "
                "give one per volume"
            )
        known = check_bvalues([float(b) for b in bvalues], "--bvalues")
    return select_trace(volumes, known, path.name)


def select_trace(volumes: list[sitk.Image], bvalues: list[float] | None, name: str) -> DiffusionVolumes:
    """Pick the trace DWI (and the b0) from ``volumes`` with per-volume ``bvalues`` (None: unknown)."""
    if len(volumes) == 1:
        b_value = bvalues[0] if bvalues else None
        if b_value is not None and b_value < MIN_DIFFUSION_B:
            raise ISLAError(
                f"{name} has b={b_value:g} s/mm^2: give the b1000 trace DWI (b0 goes to the b0 input)"
            )
        return DiffusionVolumes(volumes[0], b_value, None)
    if bvalues is None:
        raise ISLAError(
            f"{name} holds {len(volumes)} volumes but their b-values are unknown: "
            "give a .bval file beside it "
            "(or --bvalues, one per volume), or a 3-D b1000 trace image"
        )
    b = np.asarray(bvalues)
    diffusion = b[b >= MIN_DIFFUSION_B]
    if diffusion.size == 0:
        raise ISLAError(
            f"{name} holds no volume with b >= {MIN_DIFFUSION_B:g} (b-values {sorted(set(bvalues))}): "
            "give the b1000 DWI"
        )
    chosen = float(diffusion[np.argmin(np.abs(diffusion - TARGET_B))])
    trace = _geometric_mean([v for v, bv in zip(volumes, b, strict=True) if bv == chosen])
    b0_volumes = [v for v, bv in zip(volumes, b, strict=True) if bv <= MAX_B0]
    b0 = _mean(b0_volumes) if b0_volumes else None
    return DiffusionVolumes(trace, chosen, b0)


def _geometric_mean(volumes: list[sitk.Image]) -> sitk.Image:
    if len(volumes) == 1:
        return volumes[0]
    stack = np.stack([sitk.GetArrayFromImage(v).astype(np.float64) for v in volumes])
    out = sitk.GetImageFromArray(np.exp(np.log(np.clip(stack, 1e-6, None)).mean(0)).astype(np.float32))
    out.CopyInformation(volumes[0])
    return out


def _mean(volumes: list[sitk.Image]) -> sitk.Image:
    stack = np.stack([sitk.GetArrayFromImage(v).astype(np.float32) for v in volumes])
    out = sitk.GetImageFromArray(stack.mean(0))
    out.CopyInformation(volumes[0])
    return out
