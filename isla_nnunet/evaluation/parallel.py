"""Running one function over many cases in worker processes, with a progress bar.

Cases are independent and the per-case work is numpy/scipy code that holds the GIL, so processes (not
threads) give the speed-up. With one worker everything runs in the calling process, which keeps
tracebacks simple and avoids process start-up for small jobs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

from tqdm import tqdm

from isla_nnunet.errors import ISLAError
from isla_nnunet.worker_exit import exit_with_parent

T = TypeVar("T")


def available_cpus() -> int:
    """CPUs this process may run on (respects affinity masks and containers' CPU sets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def resolve_workers(workers: int | None) -> int:
    """``None`` -> all available CPUs; otherwise the given count, which must be >= 1."""
    if workers is None:
        return available_cpus()
    if workers < 1:
        raise ISLAError(f"--workers must be at least 1, got {workers}")
    return workers


def map_cases(
    function: Callable[..., T],
    arguments: Sequence[tuple[Any, ...]],
    workers: int | None = None,
    progress: bool = False,
    description: str = "cases",
    unit: str = "case",
) -> list[T]:
    """``[function(*args) for args in arguments]``, computed by ``workers`` processes, in input order.

    Args:
        function: a module-level function (it is pickled to the workers).
        arguments: one tuple of positional arguments per case.
        workers: process count; ``None`` uses every available CPU, 1 runs in this process.
        progress: show a tqdm bar on stderr.
        description, unit: label and unit of the progress bar.

    Raises:
        whatever ``function`` raises for the first failing case (other cases are cancelled).
    """
    workers = min(resolve_workers(workers), max(len(arguments), 1))
    bar = tqdm(total=len(arguments), desc=description, unit=unit, disable=not progress, leave=False)
    results: list[T] = [None] * len(arguments)  # type: ignore[list-item]
    with bar:
        if workers == 1:
            for index, args in enumerate(arguments):
                results[index] = function(*args)
                bar.update()
            return results
        with ProcessPoolExecutor(max_workers=workers, initializer=exit_with_parent,
                                 initargs=(os.getpid(),)) as pool:
            futures = {pool.submit(function, *args): index for index, args in enumerate(arguments)}
            try:
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    bar.update()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    return results
