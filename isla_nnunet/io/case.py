"""One case as the clinic hands it over: trace DWI and ADC on the DWI grid, with what was detected.

:func:`load_case` is the single entry point from files to a :class:`NativeCase`:

- DWI: any format of :mod:`isla_nnunet.io.images`; a multi-volume file is reduced to its b1000 trace
  (see :mod:`isla_nnunet.io.bvalues`). Values are float32; non-finite values become 0.
- ADC: read, its unit detected (:mod:`isla_nnunet.io.units`) and converted to 1e-6 mm^2/s. When no ADC
  is given it is computed from a b0 (a separate file or the b0 volumes of a multi-volume DWI) with
  ADC = ln(S0 / S_b) / b (:mod:`isla_nnunet.io.adc`); an unknown DWI b-value is taken as 1000 s/mm^2.
- Grids: an ADC/b0 whose header matches the DWI up to rounding takes the DWI header; one on another
  grid is linearly resampled onto the DWI grid when it covers at least half of the DWI field of view;
  otherwise the case is refused.

Example:
    >>> case = load_case("sub-3_rec-TRACE_dwi.nii.gz", adc="sub-3_rec-ADC_dwi.nii.gz")  # doctest: +SKIP
    >>> case.adc_unit, case.b_value  # doctest: +SKIP
    (1e-06, None)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.io.adc import compute_adc
from isla_nnunet.io.bvalues import TARGET_B, read_diffusion
from isla_nnunet.io.geometry import copy_grid, coverage, resample, same_grid
from isla_nnunet.io.images import read_image
from isla_nnunet.io.pairing import check_same_scan
from isla_nnunet.io.units import ADC_UNIT_NAMES, CANONICAL_ADC_UNIT, detect_adc_unit, to_canonical_adc

MIN_COVERAGE = 0.5
# Scanner intensities and ADCs in any unit stay far below this; larger values overflow float32 sums.
MAX_MAGNITUDE = 1e12
"""Fraction of the DWI field of view an ADC or b0 on another grid must cover to be resampled."""


@dataclass
class NativeCase:
    """A case on its native DWI grid.

    Attributes:
        case_id: identifier used for output names.
        dwi: trace DWI, float32, native grid (defines the native space).
        adc: ADC on the DWI grid, float32, in 1e-6 mm^2/s.
        b_value: b-value of the DWI from the metadata (s/mm^2), None when no metadata says it.
        adc_unit: unit of the source ADC in mm^2/s per stored value (1e-6 when computed).
        adc_origin: "file", "file, resampled to the DWI grid" or "computed from b0 and b=...".
        sources: input paths by role ("dwi", "adc", "b0").
    """

    case_id: str
    dwi: sitk.Image
    adc: sitk.Image
    b_value: float | None
    adc_unit: float
    adc_origin: str
    sources: dict[str, str] = field(default_factory=dict)

    def metadata(self) -> dict:
        """JSON-ready description of what was read and detected (no image data)."""
        return {
            "case_id": self.case_id,
            "sources": dict(self.sources),
            "dwi_b_value": self.b_value,
            "adc_source_unit_mm2_per_s": self.adc_unit,
            "adc_source_unit": ADC_UNIT_NAMES.get(self.adc_unit, str(self.adc_unit)),
            "adc_written_unit_mm2_per_s": CANONICAL_ADC_UNIT,
            "adc_origin": self.adc_origin,
            "native_size_xyz": list(self.dwi.GetSize()),
            "native_spacing_xyz": list(self.dwi.GetSpacing()),
        }


def _finite_float(image: sitk.Image, name: str, is_map: bool = False) -> sitk.Image:
    """``image`` as float32 with non-finite voxels set to 0, after the checks no later step can make.

    Raises:
        ISLAError: values beyond :data:`MAX_MAGNITUDE` (they overflow float32 statistics and mean the
            file's scaling is wrong), or, for a map (``is_map``: an ADC file), one value in every
            positive voxel (a placeholder: its unit would be guessed and the network fed nothing).
    """
    array = sitk.GetArrayFromImage(image)
    finite = np.isfinite(array)
    values = array[finite]
    largest = float(np.max(np.abs(values))) if values.size else 0.0
    if largest > MAX_MAGNITUDE:
        raise ISLAError(f"{name} holds values up to {largest:.3g}, far beyond any MRI intensity or ADC: its "
                        "scaling (scl_slope) or data type is wrong; export the image again")
    positive = values[values > 0]
    if is_map and positive.size > 1 and float(positive.min()) == float(positive.max()):
        raise ISLAError(f"{name} has the same value ({float(positive[0]):g}) in every voxel: give the image "
                        "the scanner reconstructed, not a constant placeholder")
    array = array.astype(np.float32)
    array[~finite] = 0.0
    out = sitk.GetImageFromArray(array)
    out.CopyInformation(image)
    return out


def on_dwi_grid(image: sitk.Image, dwi: sitk.Image, name: str) -> tuple[sitk.Image, bool]:
    """``image`` on the DWI grid and whether it had to be resampled.

    Raises:
        ISLAError: ``image`` covers less than :data:`MIN_COVERAGE` of the DWI field of view.
    """
    if same_grid(image, dwi):
        return copy_grid(image, dwi), False
    overlap = coverage(dwi, image)
    if overlap < MIN_COVERAGE:
        raise ISLAError(
            f"{name} covers {overlap:.0%} of the DWI field of view: "
            f"give the {name} from the same scan as the DWI"
        )
    return resample(image, dwi), True


def load_case(
    dwi: str | os.PathLike,
    adc: str | os.PathLike | None = None,
    b0: str | os.PathLike | None = None,
    bvalues: list[float] | None = None,
    case_id: str | None = None,
) -> NativeCase:
    """Read a case from files.

    Args:
        dwi: trace DWI (b1000) file or DICOM folder; a multi-volume file needs b-values (sidecar or
            ``bvalues``).
        adc: ADC file or DICOM folder; optional when a b0 is available.
        b0: b = 0 image used to compute the ADC when ``adc`` is None.
        bvalues: b-value of each volume of ``dwi``, overriding sidecars.
        case_id: identifier; defaults to the DWI file name without suffix.

    Raises:
        ISLAError: unreadable or missing files, multi-volume DWI without b-values, no ADC and no b0,
            an ADC in no known unit, an ADC/b0 that does not overlap the DWI, an ADC of another scan
            (:mod:`isla_nnunet.io.pairing`), an ADC of one constant
            value, or values beyond :data:`MAX_MAGNITUDE`.
    """
    dwi_path = Path(dwi)
    diffusion = read_diffusion(dwi_path, bvalues)
    trace = _finite_float(diffusion.trace, dwi_path.name)
    if not float(np.max(sitk.GetArrayViewFromImage(trace))) > 0:
        raise ISLAError(f"{dwi_path.name} has no positive values: check that the DWI file is not empty")
    sources = {"dwi": os.fspath(dwi_path)}

    if adc is not None:
        adc_image = _finite_float(read_image(adc), Path(adc).name, is_map=True)
        unit = detect_adc_unit(adc_image, name=Path(adc).name)
        adc_image, resampled = on_dwi_grid(to_canonical_adc(adc_image, unit), trace, "ADC")
        check_same_scan(trace, adc_image, f"ADC {Path(adc).name}")
        origin = "file, resampled to the DWI grid" if resampled else "file"
        sources["adc"] = os.fspath(adc)
    else:
        if b0 is not None:
            b0_image, _ = on_dwi_grid(_finite_float(read_image(b0), Path(b0).name), trace, "b0")
            sources["b0"] = os.fspath(b0)
        elif diffusion.b0 is not None:
            b0_image = _finite_float(diffusion.b0, f"the b0 volumes of {dwi_path.name}")
        else:
            raise ISLAError(
                f"no ADC for {dwi_path.name}: give the ADC image, or a b0 image to compute it from"
            )
        b_value = diffusion.b_value or TARGET_B
        adc_image = compute_adc(b0_image, trace, b_value)
        unit = CANONICAL_ADC_UNIT
        origin = f"computed from b0 and b={b_value:g}"

    name = case_id or dwi_path.name.split(".")[0]
    return NativeCase(name, trace, adc_image, diffusion.b_value, unit, origin, sources)
