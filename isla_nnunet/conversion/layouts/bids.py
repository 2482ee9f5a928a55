"""Shared machinery of the BIDS-like layouts: one walk over the tree, files looked up by name.

Datasets move derivatives around (``derivatives/`` beside ``rawdata/``, inside it, or masks next to the
images, as in the toy copies of ISLES'22 and SOOP), so files are matched by their BIDS name wherever they
sit under the root, derivatives preferred for masks and non-derivatives for images.

Example:
    >>> index = FileIndex("ISLES-2022")  # doctest: +SKIP
    >>> index.find("sub-strokecase0001_ses-0001_adc")  # doctest: +SKIP
    PosixPath('ISLES-2022/rawdata/sub-strokecase0001/ses-0001/dwi/sub-strokecase0001_ses-0001_adc.nii.gz')
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from isla_nnunet.conversion.cases import CaseSpec, case_id_from_name
from isla_nnunet.errors import ISLAError
from isla_nnunet.io.images import image_suffix

NIFTI_SUFFIXES = (".nii.gz", ".nii")


class FileIndex:
    """All NIfTI files under ``root``, by name without suffix."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        if not self.root.is_dir():
            raise ISLAError(f"{self.root} is not a folder: give the dataset root folder")
        self._by_stem: dict[str, list[Path]] = defaultdict(list)
        for folder, _, files in os.walk(self.root, followlinks=True):
            for name in files:
                suffix = image_suffix(name)
                if suffix in NIFTI_SUFFIXES and not name.startswith("."):
                    self._by_stem[name[: -len(suffix)]].append(Path(folder) / name)

    def stems(self) -> list[str]:
        """All file names without suffix, sorted."""
        return sorted(self._by_stem)

    def is_derivative(self, path: Path) -> bool:
        """True when ``path`` sits under a folder named ``derivatives``."""
        return "derivatives" in path.relative_to(self.root).parts

    def find(self, stem: str, prefer_derivatives: bool = False) -> Path | None:
        """The file named ``stem`` + NIfTI suffix, or None; ties broken by (non-)derivatives, then path."""
        paths = self._by_stem.get(stem, [])
        if not paths:
            return None
        return sorted(paths, key=lambda p: (self.is_derivative(p) != prefer_derivatives, str(p)))[0]

    def images(self, stem_suffix: str) -> list[tuple[str, Path]]:
        """(prefix, path) of every non-derivative file whose stem ends with ``stem_suffix``."""
        out = []
        for stem in self.stems():
            if stem.endswith(stem_suffix):
                path = self.find(stem)
                if path is not None and not self.is_derivative(path):
                    out.append((stem[: -len(stem_suffix)], path))
        return out


def cases_by_suffix(root: str | os.PathLike, dwi: str, adc: str, lesion: str) -> list[CaseSpec]:
    """One :class:`CaseSpec` per image named ``<case><dwi>`` under ``root``, with ``<case><adc>`` and
    the lesion mask ``<case><lesion>`` (from a derivatives folder when there is one) when present."""
    index = FileIndex(root)
    specs = []
    for prefix, dwi_path in index.images(dwi):
        adc_path = index.find(f"{prefix}{adc}")
        mask = index.find(f"{prefix}{lesion}", prefer_derivatives=True)
        specs.append(CaseSpec(case_id_from_name(prefix), str(dwi_path), adc=str(adc_path) if adc_path else None,
                              lesion=str(mask) if mask else None))
    return specs

