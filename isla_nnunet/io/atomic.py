"""Atomic output files: readers never see a half-written CSV, JSON, NIfTI or PNG.

Every writer in the package writes to a hidden temporary file in the destination folder and renames
it over the target with :func:`os.replace`, which is atomic on one file system.

Example:
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     target = pathlib.Path(folder) / "out.txt"
    ...     with atomic_output(target) as tmp:
    ...         _ = tmp.write_text("done")
    ...     print(target.read_text(), sorted(p.name for p in pathlib.Path(folder).iterdir()))
    done ['out.txt']
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

_DOUBLE_SUFFIXES = (".nii.gz", ".tar.gz")


def _suffix(path: Path) -> str:
    # Writers such as SimpleITK and matplotlib pick the file format from the extension, so the
    # temporary name must end like the target.
    for suffix in _DOUBLE_SUFFIXES:
        if path.name.endswith(suffix):
            return suffix
    return path.suffix


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    Args:
        path: final destination; missing parent folders are created.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp{_suffix(target)}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
