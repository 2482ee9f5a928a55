"""Seconds per case of Clèrigues et al.'s dense patch inference at the paper's step and coarser ones.

The network is CleriguesUNet as ``CleriguesPlans`` build it (4 input channels: DWI, ADC and their
mirrors; 24 x 24 x 16 patches), in evaluation mode under the process's CPU setting (bf16 autocast where
the processor has it natively), with random weights: the time does not depend on what was learned. The
case is a random image of ``--shape`` voxels (z, y, x). For each step the script prints the number of
patches, wall and CPU seconds for the whole case, and the ratio to the first step given (by default
the paper's 1 x 4 x 4, in z, y, x). With ``--extrapolate`` the network's throughput is measured once
on ``--batch``-sized batches of patches and each step's time is that throughput times its patch count
(labelled as such): the paper's step on a whole brain takes tens of minutes on 2 cores.

Usage::

    python scripts/benchmark_dense_inference.py                          # ISLES'22-like 2 mm grid
    python scripts/benchmark_dense_inference.py --shape 32 224 192 --steps 1,4,4 2,8,8 4,12,12
    python scripts/benchmark_dense_inference.py --shape 26 205 165 --extrapolate    # ISLA's median brain box
"""

from __future__ import annotations

import argparse
import itertools
import platform
import time

import torch

from isla_nnunet.networks.clerigues import CleriguesUNet
from isla_nnunet.networks.cpu_execution import CPUExecution
from isla_nnunet.nnunet.clerigues_planning import PATCH_SIZE_ZYX
from isla_nnunet.prediction.dense_patches import dense_patch_probability, patch_starts


def steps(text: str) -> tuple[int, int, int]:
    z, y, x = (int(v) for v in text.split(","))
    return z, y, x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(73, 112, 112), metavar=("Z", "Y", "X"))
    parser.add_argument("--steps", type=steps, nargs="+", default=[(1, 4, 4), (2, 8, 8), (4, 12, 12)])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--extrapolate", action="store_true",
                        help="time the network on two batches of patches and scale by each step's patch count")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    execution = CPUExecution.from_environment()
    network = execution.apply(CleriguesUNet(4, 2)).eval()
    image = torch.randn(4, *args.shape)
    print(f"{platform.processor() or platform.machine()}, {args.threads} threads, {execution.name}, "
          f"case {'x'.join(map(str, args.shape))} voxels (z, y, x), patch {'x'.join(map(str, PATCH_SIZE_ZYX))}")
    counts = {step: len(list(itertools.product(*(patch_starts(s, p, k) for s, p, k in
                                                 zip(args.shape, PATCH_SIZE_ZYX, step, strict=True)))))
              for step in args.steps}
    if args.extrapolate:
        batch = torch.randn(args.batch, 4, *PATCH_SIZE_ZYX)
        with torch.no_grad():
            network(batch)   # warm-up
            wall, cpu = time.perf_counter(), time.process_time()
            network(batch)
            network(batch)
            wall, cpu = (time.perf_counter() - wall) / (2 * args.batch), (time.process_time() - cpu) / (2 * args.batch)
        print(f"throughput: {1 / wall:.1f} patches/s wall ({1000 * wall:.1f} ms per patch, {1000 * cpu:.1f} ms CPU)")
        print("step (z,y,x) | patches | extrapolated wall s | CPU s | wall / first step")
        first = counts[args.steps[0]]
        for step in args.steps:
            n = counts[step]
            print(f"{'x'.join(map(str, step))} | {n} | {n * wall:.1f} | {n * cpu:.1f} | {n / first:.3f}")
        return
    print("step (z,y,x) | patches | wall s | CPU s | wall / first step")
    reference = None
    for step in args.steps:
        count = counts[step]
        wall, cpu = time.perf_counter(), time.process_time()
        dense_patch_probability(network, image, PATCH_SIZE_ZYX, step, batch_size=args.batch)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        reference = reference or wall
        print(f"{'x'.join(map(str, step))} | {count} | {wall:.1f} | {cpu:.1f} | {wall / reference:.3f}")


if __name__ == "__main__":
    main()
