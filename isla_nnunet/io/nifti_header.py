"""What ITK does not check in a NIfTI file: that its data is all there and its voxel size is real.

ITK's NIfTI reader fills a cut-short ``.nii.gz`` with zeros without an error, reads a header whose
voxel size is 0 and that has no qform/sform as 1 mm voxels (so volumes come out wrong by the true voxel
volume), and applies ``scl_slope``/``scl_inter`` in floating point, so the stored integer that means 0
comes back as a tiny non-zero number (e.g. -1.5e-7) that breaks "outside the brain is 0" rules.
:func:`check_nifti` reads the raw header and the whole data stream once, and raises on the
first two; :func:`quantization_step` gives the scale step that :func:`~isla_nnunet.io.images.read_volumes`
uses to put those near-zeros back to 0.

Example:
    >>> import tempfile, pathlib, numpy as np, nibabel as nib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.nii.gz"
    >>> nib.save(nib.Nifti1Image(np.ones((4, 4, 4), np.float32), np.eye(4)), path)
    >>> check_nifti(path).data_bytes
    256
    >>> _ = path.write_bytes(path.read_bytes()[:60])
    >>> check_nifti(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    isla_nnunet.errors.ISLAError: .../x.nii.gz is cut short or damaged (...): copy the file again ...
"""

from __future__ import annotations

import gzip
import io
import math
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from isla_nnunet.errors import ISLAError

_CHUNK = 1 << 22


@dataclass(frozen=True)
class NiftiFacts:
    """What the raw header says.

    Attributes:
        data_bytes: bytes of voxel data the header announces.
        integer: the stored type is an integer type.
        slope, inter: ``scl_slope`` and ``scl_inter`` as applied by readers (slope 0 or NaN: no scaling).
    """

    data_bytes: int
    integer: bool
    slope: float
    inter: float

    @property
    def scaled(self) -> bool:
        # NIfTI: a slope of 0 (or NaN) means the stored values are the values.
        if not math.isfinite(self.slope) or self.slope == 0.0:
            return False
        return self.slope != 1.0 or (math.isfinite(self.inter) and self.inter != 0.0)


def is_nifti(path: str | os.PathLike) -> bool:
    name = Path(path).name.lower()
    return name.endswith(".nii") or name.endswith(".nii.gz")


def _open(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def check_nifti(path: str | os.PathLike) -> NiftiFacts:
    """Check that a NIfTI file holds all its data and a usable voxel size; return its header facts.

    Raises:
        ISLAError: the file (or its gzip stream) ends before the data the header announces, the gzip
            stream is damaged, or the voxel size is zero/not finite while no sform gives the geometry.
    """
    import nibabel as nib

    path = Path(path)
    try:
        with _open(path) as stream:
            raw = stream.read(4)
            nifti2 = 540 in (int.from_bytes(raw, "little"), int.from_bytes(raw, "big"))
            kind, size = (nib.Nifti2Header, 540) if nifti2 else (nib.Nifti1Header, 348)
            raw += stream.read(size - 4)
            header = kind.from_fileobj(io.BytesIO(raw), check=False) if len(raw) == size else None
            total = len(raw)
            while chunk := stream.read(_CHUNK):
                total += len(chunk)
    except (EOFError, OSError, zlib.error) as err:
        raise ISLAError(f"{path} is cut short or damaged ({type(err).__name__}: {str(err)[:80]}): copy the "
                        "file again from its source") from None
    except Exception as err:  # nibabel's header errors have many types
        raise ISLAError(f"{path} has no readable NIfTI header ({type(err).__name__}): give a NIfTI file") from None
    if header is None:
        raise ISLAError(f"{path} is cut short or damaged (only {total} bytes, less than a NIfTI header): "
                        "copy the file again from its source")
    shape = [int(d) for d in header.get_data_shape()]
    dtype = header.get_data_dtype()
    data_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    expected = int(header["vox_offset"]) + data_bytes
    if total < expected:
        raise ISLAError(f"{path} is cut short or damaged (it holds {total} bytes, its header announces "
                        f"{expected}): copy the file again from its source")
    pixdim = [float(v) for v in header["pixdim"][1:4]]
    if int(header["sform_code"]) == 0 and any(not math.isfinite(v) or v <= 0 for v in pixdim):
        raise ISLAError(f"{path} has no voxel size (pixdim {pixdim} and no sform), so volumes in ml cannot be "
                        "measured: fix the header with the scanner's voxel size, e.g. from the DICOM")
    slope, inter = (float(v) for v in (header["scl_slope"], header["scl_inter"]))
    return NiftiFacts(data_bytes, np.issubdtype(dtype, np.integer), slope, inter)


def quantization_step(facts: NiftiFacts) -> float:
    """The value step of a scaled integer file (|scl_slope|), 0 when values are not scaled integers."""
    return abs(facts.slope) if facts.integer and facts.scaled else 0.0
