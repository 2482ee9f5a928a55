"""One writer per output root: a second batch on the same folder is refused, not interleaved.

Two ``isla predict -i`` runs on one root would each rewrite ``batch_summary.csv`` with only their own
cases, so the file would end up describing one run while the folder holds both. The batch holds an
exclusive ``flock`` on ``ROOT/.isla.lock`` for its whole run; the kernel releases it when the process
ends, killed or not, so a stale lock file never blocks a later run.

Example:
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> with folder_lock(root, "isla predict"):
    ...     with folder_lock(root, "isla predict"):  # doctest: +ELLIPSIS
    ...         pass
    Traceback (most recent call last):
    ...
    isla_nnunet.errors.ISLAError: another isla predict (process ...) is writing to ...: wait for it ...
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from isla_nnunet.errors import ISLAError

LOCK_FILE = ".isla.lock"


@contextlib.contextmanager
def folder_lock(root: str | os.PathLike, command: str) -> Iterator[None]:
    """Hold the lock of ``root`` (created when missing) while the block runs.

    Raises:
        ISLAError: another process holds it.
    """
    try:
        import fcntl
    except ImportError:  # no flock (Windows): runs are not serialised there
        yield
        return
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    handle = open(root / LOCK_FILE, "a+")  # held open for the block's duration
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            raise ISLAError(f"another {command} (process {owner}) is writing to {root}: wait for it to "
                            "finish, or give another -o") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()
