"""Work folders named after the process that owns them, so a later run can remove a killed run's.

A killed ``isla predict`` (``kill -9``, a power cut) cannot clean its staging folder. Staging names
carry the owner's process id (``.CASE.partial-<pid>-<random>``); a later run on the same output removes
every such folder whose process no longer runs on this machine, and leaves live ones alone.

Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> mine = root / staging_name("case1")
    >>> mine.mkdir(); (root / ".case1.partial-999999999-0a1b").mkdir()
    >>> [p.name for p in remove_dead_staging(root, "case1")]
    ['.case1.partial-999999999-0a1b']
    >>> mine.exists()
    True
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path


def staging_name(name: str) -> str:
    """A hidden staging folder name for output ``name`` owned by this process."""
    return f".{name}.partial-{os.getpid()}-{uuid.uuid4().hex[:10]}"


def process_alive(pid: int) -> bool:
    """Whether a process with ``pid`` runs on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except OverflowError:
        return False
    return True


def remove_dead_staging(folder: str | os.PathLike, name: str) -> list[Path]:
    """Remove the staging folders of output ``name`` in ``folder`` whose owner has died; return them."""
    folder = Path(folder)
    pattern = re.compile(rf"^\.{re.escape(name)}\.partial-(\d+)-[0-9a-f]+$")
    removed = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        found = pattern.match(entry.name)
        if found and entry.is_dir() and not process_alive(int(found.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed
