"""Models given as the zip ``nnUNetv2_export_model_to_zip`` writes: unpacked safely, one folder inside."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from isla_nnunet.errors import ISLAError


def _safe_extract(archive: zipfile.ZipFile, into: Path) -> None:
    root = into.resolve()
    for member in archive.namelist():
        target = (root / member).resolve()
        if root != target and root not in target.parents:
            raise ISLAError(f"{archive.filename} holds the path {member!r} outside its folder: "
                            "give a zip written by nnUNetv2_export_model_to_zip")
    archive.extractall(root)


def unpack_model_zip(path: str | os.PathLike, into: str | os.PathLike) -> Path:
    """Unpack an exported model zip into ``into`` and return its single trained-model folder.

    Raises:
        ISLAError: unreadable zip, or not exactly one folder with plans.json and fold folders.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            _safe_extract(archive, Path(into))
    except (OSError, zipfile.BadZipFile) as err:
        raise ISLAError(f"cannot unpack model {path} ({type(err).__name__}): give a zip written by "
                        "nnUNetv2_export_model_to_zip") from None
    folders = sorted({p.parent for p in Path(into).rglob("plans.json") if any(p.parent.glob("fold_*"))})
    if len(folders) != 1:
        found = ", ".join(f.name for f in folders) or "none"
        raise ISLAError(f"{path.name} holds {len(folders)} trained-model folders ({found}): export one "
                        "configuration per zip (nnUNetv2_export_model_to_zip -c 3d_fullres)")
    return folders[0]
