"""Benchmark the ISLA networks of every block x deep supervision x attention variant on the CPU.

Each network is built the way nnU-Net builds it (the trainer's ``build_network_architecture`` on the
ISLA plans layout) and measured on the full reference grid:

* forward time: inference pass (eval, no gradients), batch 1. All networks are timed in one process,
  round-robin over ``--rounds`` rounds, and each keeps its fastest pass, in wall time and in CPU time
  (all threads of the process): on a shared machine load changes then hit every variant alike, and CPU
  time is far less inflated by other processes than wall time. The ratio columns relate each attention
  variant to the same block and deep-supervision setting without attention;
* training-step time: forward + ISLA's loss (UFL, with the deep-supervision weights when on) + backward
  + Adam step, batch 1 and batch 2, in training mode, after one warm-up step;
* parameter count and peak resident memory (Linux ``VmHWM``, reset before each phase): each variant runs
  its forward pass, then its training steps, in a fresh child process; the increase over the child's
  resident memory before the network is built (torch and the trainer imported) is given in brackets.

The loss does not change the network, so UFL stands for both losses.

Usage::

    python scripts/benchmark_networks.py                        # all 24 networks, about 1 h on 2 cores
    python scripts/benchmark_networks.py --blocks Std --ds noDS --batch-sizes 1 --rounds 3
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time
from types import SimpleNamespace

import torch

from isla_nnunet import losses, reference
from isla_nnunet.networks.presets import DEFAULT_FEATURES, isla_arch_kwargs
from isla_nnunet.training.variants import ATTENTION, BLOCKS, DEEP_SUPERVISION, TRAINERS, trainer_name


def build(block: str, ds: str, attention: str, features) -> tuple[torch.nn.Module, bool]:
    """The network of trainer ``ISLATrainer_UFL_<block>_<ds>_<attention>`` as nnU-Net builds it."""
    cls = TRAINERS[trainer_name("UFL", block, ds, attention)]
    architecture = isla_arch_kwargs(features)
    configuration = SimpleNamespace(network_arch_class_name=architecture["network_class_name"],
                                    network_arch_init_kwargs=architecture["arch_kwargs"],
                                    network_arch_init_kwargs_req_import=architecture["_kw_requires_import"])
    return cls.build_network_architecture(None, configuration, 2, 2, cls.deep_supervision), cls.deep_supervision


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024.0   # kB


def reset_peak() -> None:
    """Start a new peak-memory window (Linux: writing 5 to clear_refs resets VmHWM)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def peak_mb() -> float:
    """Peak resident memory since the last :func:`reset_peak` (VmHWM)."""
    return _status_mb("VmHWM")


def resident_mb() -> float:
    return _status_mb("VmRSS")


def timed(step, repeats: int) -> list[float]:
    step()   # warm-up: first-call allocations and kernel selection
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def training_step(net: torch.nn.Module, deep_supervision: bool, batch: int, shape):
    target = (torch.rand(batch, 1, *shape) > 0.97).float()
    x = torch.randn(batch, 2, *shape)
    inner = losses.BinaryFromTwoClassLogits(losses.AsymmetricUnifiedFocalLoss())
    loss_fn = losses.ISLADeepSupervisionLoss(inner) if deep_supervision else inner
    optimizer = torch.optim.Adam(net.parameters(), lr=5e-4)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss_fn(net(x), target).backward()
        optimizer.step()
    return step


def measure_variant(job: dict) -> dict:
    """In a fresh process: parameters, forward peak memory, then per batch the training-step time and peak."""
    torch.set_num_threads(job["threads"])
    torch.manual_seed(0)
    result = {"idle_mb": resident_mb()}
    net, deep_supervision = build(job["block"], job["ds"], job["attention"], job["features"])
    result["params"] = sum(p.numel() for p in net.parameters())
    reset_peak()
    with torch.no_grad():
        net.eval()(torch.randn(1, 2, *job["shape"]))
    result["forward_peak_mb"] = peak_mb()
    net.train()
    for batch in job["batches"]:
        reset_peak()
        times = timed(training_step(net, deep_supervision, batch, job["shape"]), job["repeats"])
        result[f"train{batch}"] = (min(times), statistics.median(times), peak_mb())
    return result


def forward_times(variants, features, shape, rounds: int) -> dict[tuple, dict[str, float]]:
    """Inference wall and CPU time per variant, interleaved over ``rounds`` rounds after a warm-up round.

    Returns per variant the fastest and the median wall time and the smallest CPU time (all threads of
    this process; other processes' load inflates wall time far more than CPU time).
    """
    nets = {v: build(*v, features)[0].eval() for v in variants}
    x = torch.randn(1, 2, *shape)
    wall = {v: [] for v in variants}
    cpu = {v: [] for v in variants}
    with torch.no_grad():
        for round_ in range(rounds + 1):
            for v, net in nets.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                net(x)
                if round_:
                    wall[v].append(time.perf_counter() - start)
                    cpu[v].append(time.process_time() - start_cpu)
    return {v: {"wall": min(wall[v]), "wall_median": statistics.median(wall[v]), "cpu": min(cpu[v])}
            for v in variants}


def run_isolated(context, job: dict) -> dict:
    with context.Pool(1, maxtasksperchild=1) as pool:
        return pool.apply(measure_variant, (job,))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", nargs="+", default=list(BLOCKS), choices=list(BLOCKS))
    parser.add_argument("--ds", nargs="+", default=list(DEEP_SUPERVISION), choices=list(DEEP_SUPERVISION))
    parser.add_argument("--attention", nargs="+", default=list(ATTENTION), choices=list(ATTENTION))
    parser.add_argument("--features", default=",".join(map(str, DEFAULT_FEATURES)),
                        help="filters per level (default: the plans' default)")
    parser.add_argument("--shape", default=",".join(map(str, reference.SHAPE_ZYX)),
                        help="input grid z,y,x (default: the reference grid)")
    parser.add_argument("--batch-sizes", default="1,2", help="training-step batch sizes ('' to skip training)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved forward rounds (after 1 warm-up)")
    parser.add_argument("--train-repeats", type=int, default=1, help="timed training steps (after 1 warm-up)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: 2)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    features = tuple(int(f) for f in args.features.split(","))
    shape = tuple(int(s) for s in args.shape.split(","))
    batches = [int(b) for b in args.batch_sizes.split(",") if b]
    attention = list(dict.fromkeys(["NoAtt", *args.attention]))   # the ratio needs the NoAtt baseline
    variants = [(b, d, a) for b in args.blocks for d in args.ds for a in attention]
    print(f"# ISLA networks: features {features}, grid {shape} (z, y, x), {args.threads} threads; forward: "
          f"fastest wall (median) and smallest CPU time of {args.rounds} interleaved rounds; "
          f"training: fastest of {args.train_repeats} "
          "step(s) after a warm-up (median); memory: peak RSS of the phase (+ increase over the idle process)",
          flush=True)
    forward = forward_times(variants, features, shape, args.rounds)
    context = mp.get_context("spawn")
    header = ["block", "DS", "attention", "params", "fwd b1 wall s", "fwd b1 CPU s", "wall / NoAtt",
              "CPU / NoAtt"]
    header += [f"train b{b} s" for b in batches] + ["peak MB fwd"] + [f"peak MB train b{b}" for b in batches]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header), flush=True)
    idle = []
    for block, ds, att in variants:
        f, base = forward[(block, ds, att)], forward[(block, ds, "NoAtt")]
        job = {"block": block, "ds": ds, "attention": att, "features": features, "shape": shape,
               "threads": args.threads, "batches": batches, "repeats": args.train_repeats}
        m = run_isolated(context, job)
        idle.append(m["idle_mb"])
        row = [block, ds, att, f"{m['params']:,}", f"{f['wall']:.2f} ({f['wall_median']:.2f})", f"{f['cpu']:.2f}",
               f"{f['wall'] / base['wall']:.3f}", f"{f['cpu'] / base['cpu']:.3f}"]
        row += [f"{m[f'train{b}'][0]:.2f} ({m[f'train{b}'][1]:.2f})" for b in batches]
        peaks = [m["forward_peak_mb"]] + [m[f"train{b}"][2] for b in batches]
        row += [f"{p:.0f} (+{p - m['idle_mb']:.0f})" for p in peaks]
        print("| " + " | ".join(row) + " |", flush=True)
    print(f"# idle child process (torch and the trainer imported, nothing built): {min(idle):.0f} MB resident")


if __name__ == "__main__":
    main()
