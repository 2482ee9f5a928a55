"""ISLA-B on the CPU in float32 and bf16 autocast, contiguous and channels-last: step and forward times.

ISLA-B (``ISLATrainer_B``: UFL, StdUNet, deep supervision, SE + AGs) with the plans' default filters on
the full reference grid, built as nnU-Net builds it. For every combination of precision, memory
format and GroupNorm precision (bf16 runs GroupNorm in bf16 unless the row says autocast's float32) it
times

* a training step at ``--batch`` (forward, UFL with ISLA's deep-supervision weights in float32,
  backward, Adam), median of ``--repeats`` after one warm-up step;
* a forward pass at batch 1 in eval mode without gradients, median of ``--repeats`` after a warm-up,

and prints the ratios to plain float32. With ``--parity`` it also compares bf16 with float32 outputs of
one network on random input (max |p_bf16 - p_fp32| of the lesion probability); the parity of a trained
model on simulated cases is measured by ``scripts/train_isla_b.py``.

Usage::

    python scripts/benchmark_cpu_execution.py                 # about 4 minutes on 2 cores
    python scripts/benchmark_cpu_execution.py --batch 2 --repeats 5 --threads 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_networks import build, training_step  # noqa: E402

from isla_nnunet import reference  # noqa: E402
from isla_nnunet.networks.cpu_execution import CPUExecution, cpu_has_native_bf16  # noqa: E402
from isla_nnunet.networks.presets import DEFAULT_FEATURES  # noqa: E402
from isla_nnunet.precision import PRECISION_VARIABLE  # noqa: E402

COMBINATIONS = {
    "fp32": CPUExecution(None, channels_last=False),
    "fp32+channels-last": CPUExecution(None, channels_last=True),
    "bf16": CPUExecution(torch.bfloat16, channels_last=False),
    "bf16+channels-last, autocast GroupNorm": CPUExecution(torch.bfloat16, channels_last=True, bf16_group_norm=False),
    "bf16+channels-last": CPUExecution(torch.bfloat16, channels_last=True),
}


def median_time(step, repeats: int) -> float:
    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def isla_b(execution: CPUExecution) -> torch.nn.Module:
    torch.manual_seed(0)
    # The trainers' builder applies ISLA_CPU_PRECISION; build plain float32 so that only this row's
    # setting (its GroupNorm layers included) is applied.
    with mock.patch.dict(os.environ, {PRECISION_VARIABLE: "fp32"}):
        net, _ = build("Std", "DS", "SEAGs", DEFAULT_FEATURES)
    return execution.apply(net)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=2, help="training-step batch size (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats after a warm-up (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--parity", action="store_true", help="also compare bf16 with float32 outputs")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shape = reference.SHAPE_ZYX
    print(f"# ISLA-B, filters {DEFAULT_FEATURES}, grid {shape} (z, y, x), {args.threads} threads, "
          f"native bf16: {cpu_has_native_bf16()}; medians of {args.repeats} after a warm-up")
    print(f"| combination | train step b{args.batch} s | ratio to fp32 | forward b1 s | ratio to fp32 |")
    print("|---|---|---|---|---|")
    baseline = None
    x = torch.randn(1, 2, *shape)
    for name, execution in COMBINATIONS.items():
        net = isla_b(execution).train()
        train = median_time(training_step(net, True, args.batch, shape), args.repeats)
        net.eval()
        net.decoder.deep_supervision = False
        with torch.no_grad():
            forward = median_time(lambda net=net: net(x), args.repeats)
        baseline = baseline or (train, forward)
        print(f"| {name} | {train:.2f} | {train / baseline[0]:.2f} | {forward:.2f} | {forward / baseline[1]:.2f} |",
              flush=True)
    if args.parity:
        outputs = {}
        for name in ("fp32", "bf16+channels-last"):
            net = isla_b(COMBINATIONS[name]).eval()
            net.decoder.deep_supervision = False
            with torch.no_grad():
                outputs[name] = torch.softmax(net(x), 1)[:, 1]
        difference = (outputs["fp32"] - outputs["bf16+channels-last"]).abs().max().item()
        print(f"# untrained ISLA-B, random input: max |p_bf16 - p_fp32| = {difference:.4f}")


if __name__ == "__main__":
    main()
