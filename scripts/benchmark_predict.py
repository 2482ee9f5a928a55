"""Speed and memory of ``isla predict`` on one real case, single ISLA-B model and a 6-model ensemble.

What is timed: the whole command in a fresh process (``isla predict --dwi ... --adc ... -m ...``), i.e.
Python start, imports, model loading, reading, brain extraction, registration, prediction, inverse
mapping and every output file; and, from the case's ``report.json``, the per-step times of the case
itself (everything after the models are loaded). Peak memory is the child process's
``resource.getrusage(RUSAGE_SELF).ru_maxrss``, its CPU time ``ru_utime + ru_stime``: on a machine
shared with other jobs the wall time grows with their load while the CPU time does not, and on an idle
machine the wall time is about the CPU time less what the two threads ran in parallel. Last, one forward
pass is timed with the default and the channels-last weight layout.

The models are ISLA-B networks (``ISLATrainer_B``: UFL, StdUNet, deep supervision, SE + AGs) with the
default filters of the plans (``isla_nnunet.networks.presets.DEFAULT_FEATURES``) and randomly
initialised weights (one seed per model), saved as ordinary nnU-Net model folders (plans.json,
dataset.json, fold_0/checkpoint_final.pth). Speed does not depend on the weights; the plans come from
``isla plan`` run on a small simulated dataset, so the architecture is exactly the one training builds.

Usage (from the repository root)::

    .venv/bin/python scripts/benchmark_predict.py [--data ../shared/data] [--workdir DIR]
        [--repeats 2] [--device cpu] [--ensemble 6]

Without ``--workdir`` the models and outputs go to a new private temporary folder, removed at the end;
a ``--workdir`` you give is kept and its model folders are reused by the next run (they are yours: a
shared path such as ``/tmp/name`` could hold checkpoints someone else put there).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SOOP_CASE = ("soop/sub-3/sub-3_rec-TRACE_dwi.nii.gz", "soop/sub-3/sub-3_rec-ADC_dwi.nii.gz")
DATASET_ID = 989
TRAINER = "ISLATrainer_B"


def _plans(workdir: Path) -> Path:
    """ISLAPlans with the default filters, from ``isla plan`` on three simulated cases (cached)."""
    from isla_nnunet.networks.presets import DEFAULT_FEATURES
    from isla_nnunet.nnunet import commands as nnunet_cli
    from isla_nnunet.simulation import write_nnunet_dataset

    env = nnunet_cli.nnunet_environment(workdir / "nnunet")
    name = f"Dataset{DATASET_ID}_PredictBench"
    plans = Path(env["nnUNet_preprocessed"]) / name / "ISLAPlans.json"
    if plans.exists():
        return plans
    for variable in nnunet_cli.FOLDER_VARIABLES:
        Path(env[variable]).mkdir(parents=True, exist_ok=True)
    if not (Path(env["nnUNet_raw"]) / name).exists():
        write_nnunet_dataset(env["nnUNet_raw"], DATASET_ID, "PredictBench", n_train=3, seed=11)
    nnunet_cli.run(["isla", "plan", "-d", DATASET_ID, "--features", ",".join(map(str, DEFAULT_FEATURES))],
                   env, workdir / "plan.log")
    return plans


def _model_folders(workdir: Path, count: int) -> list[Path]:
    """``count`` ISLA-B model folders with random weights (seed = index), reused when present."""
    import torch
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    from isla_nnunet.training.variants import TRAINERS

    plans_path = _plans(workdir)
    dataset_json = json.loads((plans_path.parent / "dataset.json").read_text())
    manager = PlansManager(str(plans_path))
    configuration = manager.get_configuration("3d_fullres")
    trainer = TRAINERS[TRAINER]
    folders = []
    for seed in range(count):
        folder = workdir / "models" / f"seed{seed}" / f"{TRAINER}__ISLAPlans__3d_fullres"
        checkpoint = folder / "fold_0" / "checkpoint_final.pth"
        if not checkpoint.exists():
            torch.manual_seed(seed)
            network = trainer.build_network_architecture(manager, configuration, 2, 2,
                                                         enable_deep_supervision=False)
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(plans_path, folder / "plans.json")
            (folder / "dataset.json").write_text(json.dumps(dataset_json, indent=1))
            torch.save({"network_weights": network.state_dict(), "trainer_name": TRAINER,
                        "init_args": {"plans": manager.plans, "configuration": "3d_fullres", "fold": 0,
                                      "dataset_json": dataset_json},
                        "inference_allowed_mirroring_axes": (2,)}, checkpoint)
        folders.append(folder)
    return folders


def _layouts(folder: Path, repeats: int = 3) -> dict[str, tuple[float, float]]:
    """Best-of-``repeats`` (wall, CPU) seconds of one whole-volume forward pass per weight layout."""
    import torch

    from isla_nnunet.prediction.models import ModelSet

    x = torch.randn(1, 2, 32, 224, 192)
    seconds = {}
    with ModelSet.load([folder], device="cpu") as models, torch.inference_mode():
        network = models[0].predictor.network
        for layout in (torch.contiguous_format, torch.channels_last_3d):
            network.to(memory_format=layout)
            network(x)
            times = []
            for _ in range(repeats):
                wall, cpu = time.perf_counter(), time.process_time()
                network(x)
                times.append((time.perf_counter() - wall, time.process_time() - cpu))
            seconds[str(layout).replace("torch.", "")] = (min(t[0] for t in times), min(t[1] for t in times))
    return seconds


def _child(argv: list[str]) -> None:
    """Run ``isla`` in this process and print its peak memory as the last line (JSON)."""
    from isla_nnunet.cli import main

    status = main(argv)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"status": status, "peak_gib": usage.ru_maxrss / 1024**2,
                      "cpu_s": usage.ru_utime + usage.ru_stime}))


def _run(label: str, dwi: Path, adc: Path, models: list[Path], out: Path, device: str) -> dict:
    argv = ["predict", "--dwi", str(dwi), "--adc", str(adc), "-o", str(out), "--device", device,
            "--overwrite"]
    for model in models:
        argv += ["-m", str(model)]
    start = time.perf_counter()
    child = subprocess.run([sys.executable, __file__, "--child", json.dumps(argv)], capture_output=True,
                           encoding="utf-8", errors="replace", check=False)
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"{label} failed: {child.stderr.strip()[-500:]}")
    result = json.loads(child.stdout.strip().splitlines()[-1])
    if result["status"] != 0:
        raise SystemExit(f"{label} failed: {child.stderr.strip()[-500:]}")
    report = json.loads((out / "report.json").read_text())
    timings = report["timings_s"]
    models_s = sum(v for k, v in timings.items() if k.startswith("model_"))
    return {"label": label, "wall_s": wall, "cpu_s": result["cpu_s"], "case_s": timings["total"],
            "models_s": models_s,
            "registration_s": timings["brain_extraction"] + timings["registration"],
            "other_s": timings["total"] - models_s - timings["brain_extraction"] - timings["registration"],
            "peak_gib": result["peak_gib"], "lesion_ml": report["lesion"]["total_volume_ml"],
            "brain_method": report["brain"]["method"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workdir", type=Path, help="kept and reused (default: a private temporary folder)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--ensemble", type=int, default=6)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(json.loads(args.child))
        return
    dwi, adc = (args.data / p for p in SOOP_CASE)
    if not dwi.exists():
        raise SystemExit(f"{dwi} not found: give --data (the folder holding soop/sub-3)")
    if args.workdir is None:
        with tempfile.TemporaryDirectory(prefix="isla_predict_bench_") as private:
            args.workdir = Path(private)
            _benchmark(args, dwi, adc)
    else:
        args.workdir.mkdir(parents=True, exist_ok=True)
        _benchmark(args, dwi, adc)


def _benchmark(args: argparse.Namespace, dwi: Path, adc: Path) -> None:
    folders = _model_folders(args.workdir, args.ensemble)
    import torch

    print(f"# isla predict, SOOP sub-3 (256 x 256 x 26, 0.9 x 0.9 x 6 mm, head), {datetime.date.today()}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
          f"{torch.__version__} ({torch.get_num_threads()} threads), device {args.device}, "
          f"CUDA {'available' if torch.cuda.is_available() else 'not available'}")
    print(f"models: {TRAINER}, default filters, random weights; load average before: "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    rows = []
    for repeat in range(args.repeats):
        for label, members in (("ISLA-B, 1 model", folders[:1]),
                               (f"ISLA-ENS, {len(folders)} models", folders)):
            rows.append(_run(label, dwi, adc, members, args.workdir / "out" / f"{len(members)}", args.device))
            row = rows[-1]
            print(f"  run {repeat + 1}: {label}: {row['wall_s']:.1f} s wall, {row['cpu_s']:.1f} s CPU, case "
                  f"{row['case_s']:.1f} s, load {os.getloadavg()[0]:.1f}", flush=True)
    print(f"load average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}\n")
    print("| configuration | wall incl. process start (s) | CPU time, user + system (s) | case (s) "
          "| brain + registration (s) | networks (s) | other steps (s) | peak memory (GiB) |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['label']} | {row['wall_s']:.1f} | {row['cpu_s']:.1f} | {row['case_s']:.1f} | "
              f"{row['registration_s']:.1f} | {row['models_s']:.1f} | {row['other_s']:.1f} | "
              f"{row['peak_gib']:.2f} |")
    print(f"\nbrain extraction: {rows[0]['brain_method']}; case = report.json timings total "
          "(after model loading)")
    layouts = _layouts(folders[0])
    print("one ISLA-B forward pass (1 x 2 x 32 x 224 x 192), best of 3, wall / CPU: "
          + ", ".join(f"{k} {wall:.2f} / {cpu:.2f} s" for k, (wall, cpu) in layouts.items()))


if __name__ == "__main__":
    main()
