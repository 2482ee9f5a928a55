"""Reading masks and probability maps for evaluation, with their grid, and writing result images.

Images are read with SimpleITK, so NIfTI (.nii, .nii.gz), MetaImage (.mha, .mhd) and NRRD work alike.
Arrays are returned in SimpleITK order (z, y, x) and spacings in the same order, in mm. nnU-Net
probability files (``CASE.npz`` from ``nnUNetv2_predict --save_probabilities``) hold no geometry: they
are on the grid of the image they were predicted from, which is the ground truth's grid for validation
predictions, so :func:`read_probability` takes that grid from a reference image.

Evaluation never resamples: two images on different grids raise :class:`~isla_nnunet.errors.ISLAError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.io.atomic import atomic_output

# Headers written by different tools round the same grid differently (float32 qform vs sform).
_GRID_ATOL = 1e-3


@dataclass(frozen=True)
class Geometry:
    """Voxel grid: shape and spacing in (z, y, x) order, origin and direction as SimpleITK has them."""

    shape_zyx: tuple[int, int, int]
    spacing_zyx: tuple[float, float, float]
    origin_xyz: tuple[float, float, float]
    direction: tuple[float, ...]

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in ml (1 ml = 1000 mm^3)."""
        return float(np.prod(self.spacing_zyx)) / 1000.0

    def differences(self, other: Geometry) -> list[str]:
        """Human-readable list of what differs between two grids (empty when they match)."""
        out = []
        if self.shape_zyx != other.shape_zyx:
            out.append(f"shape (z,y,x) {self.shape_zyx} vs {other.shape_zyx}")
        for name in ("spacing_zyx", "origin_xyz", "direction"):
            mine, theirs = np.asarray(getattr(self, name)), np.asarray(getattr(other, name))
            if not np.allclose(mine, theirs, atol=_GRID_ATOL, rtol=0):
                out.append(f"{name.split('_')[0]} {_fmt(mine)} vs {_fmt(theirs)}")
        return out


def _fmt(values: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.4g}" for v in values) + ")"


@dataclass(frozen=True)
class Image:
    """A 3-D array in (z, y, x) order with its grid and the file it came from."""

    array: np.ndarray
    geometry: Geometry
    path: Path | None = None


def check_same_grid(a: Image, b: Image) -> None:
    """Raise :class:`ISLAError` unless ``a`` and ``b`` share shape, spacing, origin and direction.

    Tolerance: 1e-3 (mm for spacing and origin), absorbing header rounding only.
    """
    diffs = a.geometry.differences(b.geometry)
    if diffs:
        raise ISLAError(
            f"{_name(a)} and {_name(b)} are on different grids ({'; '.join(diffs)}): "
            "resample the prediction onto the ground-truth grid first (evaluation never resamples)"
        )


def _name(image: Image) -> str:
    return image.path.name if image.path is not None else "<array>"


def _read_sitk(path: Path) -> sitk.Image:
    if not path.is_file():
        raise ISLAError(f"{path} does not exist: check the path")
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as err:
        raise ISLAError(f"cannot read {path} as an image ({str(err).strip().splitlines()[-1]}): "
                        "give a NIfTI, .mha or .nrrd file") from None
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise ISLAError(f"{path} has {image.GetNumberOfComponentsPerPixel()} components per voxel: "
                        "give a single-channel mask or probability map")
    if image.GetDimension() == 4:
        size = image.GetSize()
        if size[3] != 1:
            raise ISLAError(f"{path} is 4-D with {size[3]} volumes: give a 3-D image "
                            "(or a 4-D one whose 4th axis has length 1)")
        image = sitk.Extract(image, [*size[:3], 0], [0, 0, 0, 0])
    if image.GetDimension() != 3:
        raise ISLAError(f"{path} is {image.GetDimension()}-D: give a 3-D image")
    return image


def _geometry(image: sitk.Image) -> Geometry:
    return Geometry(
        shape_zyx=tuple(int(s) for s in image.GetSize()[::-1]),
        spacing_zyx=tuple(float(s) for s in image.GetSpacing()[::-1]),
        origin_xyz=tuple(float(o) for o in image.GetOrigin()),
        direction=tuple(float(d) for d in image.GetDirection()),
    )


def as_binary_mask(array: np.ndarray, what: str = "mask") -> np.ndarray:
    """Return ``array`` as bool after checking it holds only 0 and 1.

    Args:
        array: integer, float or bool array.
        what: name used in error messages (a file name).

    Raises:
        ISLAError: NaN values, or values other than 0 and 1 (label maps, probabilities, 0/255 masks).

    Example:
        >>> as_binary_mask(np.array([0.0, 1.0])).tolist()
        [False, True]
    """
    array = np.asarray(array)
    if array.dtype == bool:
        return array
    if np.issubdtype(array.dtype, np.floating) and np.isnan(array).any():
        raise ISLAError(f"{what} contains NaN values: give a binary mask (0 = background, 1 = lesion)")
    values = np.unique(array)
    if not np.isin(values, (0, 1)).all():
        shown = ", ".join(f"{v:g}" for v in values[:6]) + (", ..." if values.size > 6 else "")
        raise ISLAError(f"{what} is not a binary mask (values {shown}): give 0 = background, 1 = lesion "
                        "(threshold probabilities at 0.5 first)")
    return array.astype(bool)


def read_mask(path: str | os.PathLike) -> Image:
    """Read a binary lesion mask (any SimpleITK format) as a bool (z, y, x) array with its grid.

    Raises:
        ISLAError: missing or unreadable file, 4-D with more than one volume, non-binary values, NaN.
    """
    path = Path(path)
    image = _read_sitk(path)
    return Image(as_binary_mask(sitk.GetArrayFromImage(image), path.name), _geometry(image), path)


def check_probability(array: np.ndarray, what: str) -> np.ndarray:
    """Return ``array`` as float32 after checking it lies in [0, 1] without NaN.

    Raises:
        ISLAError: NaN or values outside [0, 1] (logits, percentages).
    """
    array = np.asarray(array, dtype=np.float32)
    if np.isnan(array).any():
        raise ISLAError(f"{what} contains NaN values: give lesion probabilities in [0, 1]")
    low, high = (float(array.min()), float(array.max())) if array.size else (0.0, 0.0)
    if low < 0.0 or high > 1.0:
        raise ISLAError(f"{what} has values in [{low:g}, {high:g}]: give lesion probabilities in [0, 1]")
    return array


def read_probability(path: str | os.PathLike, reference: Geometry) -> Image:
    """Read a lesion probability map, on the grid ``reference`` (the ground truth of the same case).

    ``.npz`` files are nnU-Net's ``--save_probabilities`` output: key ``probabilities`` shaped
    (C, z, y, x); channel 1 is the lesion when C >= 2 (softmax over background and lesion), channel 0
    when C == 1 (a single sigmoid region). They carry no geometry, so their shape must equal
    ``reference.shape_zyx`` and they take its grid. Image files (NIfTI, mha, nrrd) must lie on
    ``reference``.

    Raises:
        ISLAError: missing key, wrong shape or grid, NaN, values outside [0, 1].
    """
    path = Path(path)
    if path.name.endswith(".npz"):
        try:
            with np.load(path) as data:
                if "probabilities" not in data:
                    raise ISLAError(f"{path} has no 'probabilities' array: give the .npz written by "
                                    "nnUNetv2_predict --save_probabilities")
                probabilities = data["probabilities"]
        except (OSError, ValueError) as err:
            raise ISLAError(f"cannot read {path} ({err}): give an nnU-Net probability .npz") from None
        if probabilities.ndim != 4:
            raise ISLAError(f"{path}: 'probabilities' has shape {probabilities.shape}, expected (C, z, y, x)")
        lesion = probabilities[1] if probabilities.shape[0] >= 2 else probabilities[0]
        if tuple(lesion.shape) != reference.shape_zyx:
            raise ISLAError(f"{path}: probabilities of shape (z,y,x) {tuple(lesion.shape)} do not match the "
                            f"ground-truth grid {reference.shape_zyx}: predict on the ground-truth images")
        return Image(check_probability(lesion, path.name), reference, path)
    image = _read_sitk(path)
    result = Image(check_probability(sitk.GetArrayFromImage(image), path.name), _geometry(image), path)
    diffs = result.geometry.differences(reference)
    if diffs:
        raise ISLAError(f"{path.name} is not on the ground-truth grid ({'; '.join(diffs)}): "
                        "resample it onto the ground-truth grid first (evaluation never resamples)")
    return result


def read_image(path: str | os.PathLike) -> Image:
    """Read any 3-D scalar image (e.g. a background DWI for figures) as float32 with its grid.

    Raises:
        ISLAError: missing or unreadable file, 4-D with more than one volume.
    """
    path = Path(path)
    image = _read_sitk(path)
    return Image(sitk.GetArrayFromImage(image).astype(np.float32), _geometry(image), path)


def write_image(array: np.ndarray, geometry: Geometry, path: str | os.PathLike) -> Path:
    """Write a (z, y, x) array with ``geometry`` to ``path`` (format from the extension), atomically."""
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    image.SetSpacing(geometry.spacing_zyx[::-1])
    image.SetOrigin(geometry.origin_xyz)
    image.SetDirection(geometry.direction)
    with atomic_output(path) as tmp:
        sitk.WriteImage(image, str(tmp), useCompression=True)
    return Path(path)
