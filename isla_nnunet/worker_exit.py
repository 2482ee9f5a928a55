"""Worker processes that end when the process that started them dies.

``kill -9`` of ``isla convert -np 2`` (or ``isla simulate``, ``isla evaluate`` with workers) leaves
its pool workers running: nothing tells them the parent is gone, so they finish their case and then
wait forever for the next one. :func:`exit_with_parent` is a pool initializer: on Linux the kernel
kills the worker when its parent dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``); everywhere a daemon
thread also checks once a second whether the worker was handed to another parent, and exits then.

Example::

    ProcessPoolExecutor(2, mp_context=get_context("spawn"), initializer=exit_with_parent,
                        initargs=(os.getpid(),))
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def exit_with_parent(parent_pid: int, then=None) -> None:
    """Make this process exit when ``parent_pid`` dies; then run ``then()`` (another initializer)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:
            pass
    if os.getppid() != parent_pid:  # the parent died before the request above took effect
        os._exit(1)
    threading.Thread(target=_watch, args=(parent_pid,), daemon=True, name="exit-with-parent").start()
    if then is not None:
        then()


def _watch(parent_pid: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(1)
