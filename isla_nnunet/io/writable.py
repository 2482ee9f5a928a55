"""Output paths checked before any work, and OS write failures turned into one line.

A run that fails only when it writes its first file has wasted its minutes: :func:`check_writable`
creates (and removes) a probe file where the output will go, before anything is read or computed.
:func:`os_error_line` words the errors a full disk or a read-only folder raise later.

Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> check_writable(root / "new" / "out.json") == root / "new" / "out.json"
    True
    >>> _ = (root / "file").write_text("x")
    >>> check_writable(root / "file" / "out")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    isla_nnunet.errors.ISLAError: cannot write .../file/out: .../file is a file, not a folder; ...
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from isla_nnunet.errors import ISLAError


def check_writable(path: str | os.PathLike) -> Path:
    """``path`` (a file or folder to be written, existing or not) if a file can be created there.

    Raises:
        ISLAError: an ancestor is a file, or the nearest existing folder does not take new files
            (permissions, read-only file system, full disk).
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ISLAError(f"cannot write {path}: {folder} is a file, not a folder; give another output path")
    try:
        handle, probe = tempfile.mkstemp(prefix=".isla-write-check-", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as err:
        raise ISLAError(f"cannot write {path}: {_reason(err)} in {folder}; give an output path you can "
                        "write to") from None
    return path


def _reason(err: OSError) -> str:
    return {errno.ENOSPC: "the disk is full", errno.EROFS: "the file system is read-only",
            errno.EACCES: "permission denied", errno.EPERM: "permission denied"}.get(
        err.errno, err.strerror or type(err).__name__)


def os_error_line(err: OSError) -> str:
    """One line for an OS error met while a command ran (what failed, where, what to do)."""
    where = f" ({err.filename})" if err.filename else ""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"the disk is full{where}: free space and run the command again (finished outputs are kept, "
                "nothing is half-written)")
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write{where}: {_reason(err)}; give an output path you can write to"
    return f"{err.strerror or type(err).__name__}{where}"
