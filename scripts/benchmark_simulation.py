"""Seconds per simulated case, on the reference grid and on native grids, against the 2 s goal.

Times :func:`isla_nnunet.simulation.simulate_case` for each path after one warm-up case (the warm-up
loads the MNI152 templates and builds the partial-volume filter for the grid's spacing, once per
process; its time is printed separately), then the whole nnU-Net dataset writer (simulation plus
NIfTI writing) on the reference grid.

Usage:
    python scripts/benchmark_simulation.py [--cases 8]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time

from isla_nnunet.simulation import simulate_case, write_nnunet_dataset

GOAL_S = 2.0
PATHS = (
    ("reference grid (source)", "source"),
    ("reference grid (target)", "target"),
    ("native isles22-like 112x112x73", "isles22-like"),
    ("native soop-like 256x256x26 + skull", "soop-like"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=8, help="timed cases per path (default 8)")
    args = parser.parse_args()
    machine = platform.processor() or platform.machine()
    print(f"{machine}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"{'path':<38} {'warm-up s':>9} {'median s/case':>13} {'max s':>7} {'/ goal':>7}")
    for label, domain in PATHS:
        start = time.perf_counter()
        simulate_case(10_000, domain)
        warm_up = time.perf_counter() - start
        times = []
        for seed in range(args.cases):
            start = time.perf_counter()
            simulate_case(seed, domain)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        print(f"{label:<38} {warm_up:>9.2f} {median:>13.2f} {max(times):>7.2f} {median / GOAL_S:>7.2f}")
    with tempfile.TemporaryDirectory() as raw:
        start = time.perf_counter()
        write_nnunet_dataset(raw, 999, "Benchmark", n_train=args.cases, n_test=0)
        per_case = (time.perf_counter() - start) / args.cases
    label = "nnU-Net dataset writer (simulate+write)"
    print(f"{label:<38} {'':>9} {per_case:>13.2f} {'':>7} {per_case / GOAL_S:>7.2f}")


if __name__ == "__main__":
    main()
