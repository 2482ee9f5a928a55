"""Rigid (6 degrees of freedom) registration of a DWI to the reference, and the mappings it gives.

Settings (:class:`RegistrationSettings`): Mattes mutual information (32 bins, 10 % random samples,
fixed seed) inside the dilated reference brain mask; regular-step gradient descent with scales from
physical shifts; three resolution levels (shrink 4, 2, 1 with Gaussian smoothing 4, 2, 0 mm) on a 2 mm
isotropic copy of the reference (:func:`reference_image.registration_target`); start from the
alignment of the centres of mass. The moving image is the brain-masked native DWI, so the outline of
the brain contributes to the match as well as the grey/white contrast.

:class:`Registration` holds the transform and the native grid, and maps both ways:

- ``to_reference(image, "image")``: linear interpolation onto the reference grid.
- ``to_reference(mask, "mask")``: partial-volume fraction >= 0.5, small lesions kept
  (:func:`isla_nnunet.io.masks.resample_mask`).
- ``to_native(probability, "probability")``: linear interpolation onto the native DWI grid.
- ``to_native(probability_or_mask, "mask")``: linear interpolation, then > 0.5 in native space, small
  lesions kept.

Saved as JSON (exact: floats round-trip), holding the transform parameters and both grids.

Example:
    >>> reg = register_to_reference(case, brain)  # doctest: +SKIP
    >>> reg.save("case.json"); back = Registration.load("case.json")  # doctest: +SKIP
    >>> native_mask = back.to_native(probability, kind="mask")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.io.atomic import atomic_output
from isla_nnunet.io.case import NativeCase
from isla_nnunet.io.geometry import grid_from_dict, grid_to_dict, resample, same_grid
from isla_nnunet.io.masks import affine_parts, resample_mask
from isla_nnunet.preprocessing import reference_image

FORMAT = "isla-nnunet-registration"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class RegistrationSettings:
    """Rigid registration parameters (defaults measured to take a few seconds on 2 CPU cores)."""

    histogram_bins: int = 32
    sampling_fraction: float = 0.1
    shrink_factors: tuple[int, ...] = (4, 2, 1)
    smoothing_sigmas_mm: tuple[float, ...] = (4.0, 2.0, 0.0)
    iterations: int = 200
    learning_rate: float = 1.0
    min_step: float = 1e-2
    fixed_mask_dilation_mm: float = 8.0
    seed: int = 2024


def _dilate(mask: sitk.Image, radius_mm: float) -> sitk.Image:
    radius = [max(1, int(round(radius_mm / s))) for s in mask.GetSpacing()]
    return sitk.BinaryDilate(sitk.Cast(mask, sitk.sitkUInt8), radius)


def rigid_register(
    fixed: sitk.Image,
    moving: sitk.Image,
    fixed_mask: sitk.Image | None = None,
    settings: RegistrationSettings = RegistrationSettings(),
) -> tuple[sitk.Euler3DTransform, float]:
    """Euler (rigid) transform mapping ``fixed`` points onto ``moving`` points, and the final metric value.

    Args:
        fixed: image defining the sampling domain.
        moving: image resampled during optimisation.
        fixed_mask: restricts the metric samples (dilated by ``settings.fixed_mask_dilation_mm``).
        settings: optimiser and pyramid settings.

    Raises:
        ISLAError: the optimisation fails (e.g. images that do not overlap at all).
    """
    fixed = sitk.Cast(fixed, sitk.sitkFloat32)
    moving = sitk.Cast(moving, sitk.sitkFloat32)
    # Heads lie roughly along the scanner axes, so aligning the centres of mass is a safe start.
    start = sitk.CenteredTransformInitializer(
        fixed, moving, sitk.Euler3DTransform(), sitk.CenteredTransformInitializerFilter.MOMENTS
    )
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=settings.histogram_bins)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(settings.sampling_fraction, settings.seed)
    if fixed_mask is not None:
        method.SetMetricFixedMask(_dilate(fixed_mask, settings.fixed_mask_dilation_mm))
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=settings.learning_rate,
        minStep=settings.min_step,
        numberOfIterations=settings.iterations,
        relaxationFactor=0.5,
        gradientMagnitudeTolerance=1e-8,
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(list(settings.shrink_factors))
    method.SetSmoothingSigmasPerLevel(list(settings.smoothing_sigmas_mm))
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    method.SetInitialTransform(start, inPlace=False)
    try:
        result = method.Execute(fixed, moving)
    except RuntimeError as err:
        raise ISLAError(
            f"registration failed ({str(err).strip().splitlines()[-1][:160]}): "
            "check that the DWI shows a head or brain"
        ) from None
    return as_euler(result, start.GetCenter()), float(method.GetMetricValue())


def as_euler(transform: sitk.Transform, centre) -> sitk.Euler3DTransform:
    """A rigid transform (any SimpleITK wrapper of one) as an Euler3DTransform about ``centre``."""
    matrix, offset = affine_parts(transform)
    # Re-orthonormalise: numeric differences carry ~1e-12 noise that Euler3DTransform refuses.
    u, _, vt = np.linalg.svd(matrix)
    rotation = u @ vt
    out = sitk.Euler3DTransform()
    out.SetCenter([float(v) for v in centre])
    out.SetMatrix(rotation.flatten().tolist())
    # x -> R (x - c) + c + t equals x -> R x + offset when t = offset + R c - c.
    c = np.asarray(out.GetCenter())
    out.SetTranslation((offset + rotation @ c - c).tolist())
    return out


def register_to_reference(
    case: NativeCase | sitk.Image,
    brain_mask: sitk.Image | None,
    settings: RegistrationSettings = RegistrationSettings(),
) -> Registration:
    """Rigidly register a case's DWI to the reference DWI.

    Args:
        case: the native case (its DWI is used) or a DWI image.
        brain_mask: native brain mask (uint8, DWI grid) applied to the DWI before matching; None uses the
            whole image (a skull-stripped DWI, or a head in the first pass of the template method).
        settings: registration parameters.

    Raises:
        ISLAError: the mask is not on the DWI grid, or the optimisation fails.
    """
    dwi = case.dwi if isinstance(case, NativeCase) else case
    moving = sitk.Cast(dwi, sitk.sitkFloat32)
    if brain_mask is not None:
        if not same_grid(brain_mask, dwi):
            raise ISLAError("the brain mask is not on the DWI grid: give a mask computed on this DWI")
        mask = sitk.Cast(brain_mask, sitk.sitkUInt8)
        mask.CopyInformation(dwi)
        moving = sitk.Mask(moving, mask)
    fixed, fixed_mask = reference_image.registration_target()
    transform, metric = rigid_register(fixed, moving, fixed_mask, settings)
    native = sitk.Image(dwi.GetSize(), sitk.sitkUInt8)
    native.CopyInformation(dwi)
    return Registration(transform, native, metric)


@dataclass
class Registration:
    """A rigid mapping between a native DWI grid and the reference grid.

    Attributes:
        transform: maps reference-space points (LPS mm) to native points, the SimpleITK resampling
            convention for "native image onto reference grid".
        native_grid: image (pixels unused) with the native DWI geometry.
        metric: final Mattes mutual information (negative; lower is better), for information.
        info: free JSON-ready metadata saved with the transform (e.g. the case's metadata, QC).
    """

    transform: sitk.Euler3DTransform
    native_grid: sitk.Image
    metric: float | None = None
    info: dict = field(default_factory=dict)

    @property
    def reference_grid(self) -> sitk.Image:
        return reference_image.reference_grid(sitk.sitkUInt8)

    def _as_image(self, data: sitk.Image | np.ndarray, grid: sitk.Image, where: str) -> sitk.Image:
        if isinstance(data, np.ndarray):
            expected = tuple(reversed(grid.GetSize()))
            if data.shape != expected:
                raise ISLAError(
                    f"array of shape {data.shape} given where the {where} grid {expected} (z, y, x) "
                    "is expected: pass an image on that grid"
                )
            image = sitk.GetImageFromArray(np.ascontiguousarray(data, dtype=np.float32))
            image.CopyInformation(grid)
            return image
        if not same_grid(data, grid):
            raise ISLAError(
                f"image of size {data.GetSize()} is not on the {where} grid {grid.GetSize()}: "
                f"pass an image on the {where} grid"
            )
        image = sitk.Image(data)
        image.CopyInformation(grid)
        return image

    def to_reference(self, image: sitk.Image | np.ndarray, kind: str = "image") -> sitk.Image:
        """Native-grid image ("image": float32, linear) or mask ("mask": uint8) on the reference grid."""
        image = self._as_image(image, self.native_grid, "native")
        grid = self.reference_grid
        if kind == "image":
            return resample(image, grid, sitk.sitkLinear, self.transform)
        if kind == "mask":
            return resample_mask(image, grid, self.transform, partial_volume=True)
        raise ValueError(f"kind must be 'image' or 'mask', not {kind!r}")

    def to_native(self, image: sitk.Image | np.ndarray, kind: str = "probability",
                  keep_small_lesions: bool = False) -> sitk.Image:
        """Reference-grid image on the native DWI grid: "probability" -> float32, "mask" -> uint8 (p > 0.5).

        Arrays are accepted in nnU-Net order (z, y, x) with the reference shape. ``keep_small_lesions``
        (masks only) re-adds one voxel for every component that resampling loses; off by default, as
        ISLA thresholds at 0.5 and maps back without inventing voxels.
        """
        image = self._as_image(image, self.reference_grid, "reference")
        inverse = self.transform.GetInverse()
        if kind == "probability":
            return resample(image, self.native_grid, sitk.sitkLinear, inverse)
        if kind == "mask":
            return resample_mask(image, self.native_grid, inverse, partial_volume=False,
                                 keep_small_lesions=keep_small_lesions)
        raise ValueError(f"kind must be 'probability' or 'mask', not {kind!r}")

    def to_mni(self, image: sitk.Image | np.ndarray, kind: str = "probability") -> sitk.Image:
        """Native-grid image on the MNI152 1 mm grid: "probability" -> float32 (linear), "mask" -> uint8.

        The reference grid lies in MNI152 world coordinates, so the rigid transform that maps the
        reference onto the case maps MNI152 onto it too: the image is resampled once, straight from the
        native grid. A mask takes each MNI voxel from the native voxel holding its centre (unbiased
        volumes on the finer grid), and a lesion that holds no MNI voxel centre keeps one voxel. The
        alignment is rigid (6 degrees of freedom): head position, not head size or shape, is normalised.
        """
        image = self._as_image(image, self.native_grid, "native")
        grid = reference_image.mni_grid(sitk.sitkUInt8)
        if kind == "probability":
            return resample(image, grid, sitk.sitkLinear, self.transform)
        if kind == "mask":
            return resample_mask(image, grid, self.transform, nearest=True, keep_small_lesions=True)
        raise ValueError(f"kind must be 'probability' or 'mask', not {kind!r}")

    def from_mni(self, image: sitk.Image | np.ndarray, kind: str = "mask") -> sitk.Image:
        """MNI152 1 mm image on the native DWI grid: "mask" -> uint8 (p > 0.5), "labels" -> uint16 (nearest).

        "labels" suits an atlas (integer regions). An image may lie on any grid in MNI152 world
        coordinates (an atlas keeps its own); an array must be on :func:`reference_image.mni_grid`, in
        (z, y, x) order.
        """
        if isinstance(image, np.ndarray):
            image = self._as_image(image, reference_image.mni_grid(sitk.sitkUInt8), "MNI152")
        inverse = self.transform.GetInverse()
        if kind == "mask":
            return resample_mask(image, self.native_grid, inverse, partial_volume=False, keep_small_lesions=False)
        if kind == "labels":
            return sitk.Resample(sitk.Cast(image, sitk.sitkUInt16), self.native_grid, inverse,
                                 sitk.sitkNearestNeighbor, 0, sitk.sitkUInt16)
        raise ValueError(f"kind must be 'mask' or 'labels', not {kind!r}")

    def to_dict(self) -> dict:
        """JSON-ready form (see :meth:`save`)."""
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "transform": {
                "type": "Euler3DTransform",
                "convention": "maps reference points to native points (LPS mm), as SimpleITK resampling",
                "parameters": list(self.transform.GetParameters()),
                "fixed_parameters": list(self.transform.GetFixedParameters()),
                "compute_zyx": bool(self.transform.GetComputeZYX()),
                "matrix": list(self.transform.GetMatrix()),
                "translation": list(self.transform.GetTranslation()),
            },
            "native_grid": grid_to_dict(self.native_grid),
            "reference_grid": grid_to_dict(self.reference_grid),
            "metric": self.metric,
            "info": self.info,
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the registration as JSON (atomically) and return the path."""
        with atomic_output(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Registration:
        """Read a registration written by :meth:`save`.

        Raises:
            ISLAError: missing/invalid file, or saved for another reference grid than the installed one.
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ISLAError(
                f"cannot read transform {path} ({type(err).__name__}): give a file written by "
                "isla convert or isla predict"
            ) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ISLAError(
                f"{path} is not an isla-nnunet registration file: give a transform written by isla"
            )
        if not same_grid(grid_from_dict(data["reference_grid"]), reference_image.reference_grid()):
            raise ISLAError(f"{path} was made for another reference grid: convert the case again")
        saved = data["transform"]
        transform = sitk.Euler3DTransform()
        transform.SetComputeZYX(bool(saved["compute_zyx"]))
        transform.SetFixedParameters([float(v) for v in saved["fixed_parameters"]])
        transform.SetParameters([float(v) for v in saved["parameters"]])
        return cls(
            transform,
            grid_from_dict(data["native_grid"], sitk.sitkUInt8),
            data.get("metric"),
            data.get("info", {}),
        )
