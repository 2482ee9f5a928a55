"""Train Clèrigues et al.'s patch U-Net on simulated cases on a CPU, with its post-processing search.

Every stage is skipped when its output exists, and training resumes from nnU-Net's
``checkpoint_latest.pth`` (``nnUNetv2_train ... --c``):

1. data: ``--train-cases + --val-cases`` labeled cases of the ``--domains`` simulated on the reference
   grid (``write_nnunet_dataset``, the same generator and seed as ``scripts/train_isla_b.py``, so with
   equal ``--seed``, ``--domains`` and counts the cases are the ISLA-B run's), then
   ``isla add-symmetric-channels`` (DWI, ADC and their mirror images: 4 channels);
2. plan: ``isla plan --planner clerigues`` (patch 24 x 24 x 16, batch 16, CleriguesUNet) and a
   ``splits_final.json`` whose fold 0 trains on the first ``--train-cases`` and validates on the rest;
3. train: ``nnUNetv2_train ID 3d_fullres 0 -p CleriguesPlans -tr TRAINER -device cpu --npz``
   (default ``CleriguesTrainer_CPU``: focal loss, Adadelta, balanced patches, 16 per case and pass,
   at most 4 passes, the best pass's weights kept);
4. post-processing: ``isla search-postprocessing`` on the validation probabilities (Th x Smin,
   stored as ``postprocessing.json`` beside the model, applied by ``isla predict``).

Scoring on held-out and real cases is ``scripts/compare_models.py`` (the same cases for every model).
Figures go to ``WORKDIR/results.json``. Keep WORKDIR outside the repository.

Usage::

    nice python scripts/train_clerigues.py --workdir ~/isla_runs/clerigues --domains source,randomised
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from isla_nnunet.io.atomic import write_text_atomic
from isla_nnunet.nnunet.clerigues_planning import PLANS_NAME
from isla_nnunet.nnunet.commands import nnunet_environment
from isla_nnunet.nnunet.commands import run as run_command
from isla_nnunet.simulation import write_nnunet_dataset

DATASET_ID, DATASET_NAME = 602, "SimStrokeC"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True, help="run folder (outside the repository)")
    parser.add_argument("--train-cases", type=int, default=48)
    parser.add_argument("--val-cases", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0, help="simulation seed")
    parser.add_argument("--domains", default="source", help="training domains, comma-separated, taken in turn")
    parser.add_argument("--trainer", default="CleriguesTrainer_CPU")
    parser.add_argument("--workers", type=int, default=2, help="processes simulating and planning")
    parser.add_argument("--augmentation-workers", type=int, default=1, help="nnUNet_n_proc_DA while training")
    return parser.parse_args()


class Run:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.root = args.workdir.resolve()
        self.env = {**nnunet_environment(self.root), "nnUNet_n_proc_DA": str(args.augmentation_workers)}
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("nnUNet")})
        self.dataset = f"Dataset{DATASET_ID:03d}_{DATASET_NAME}"
        self.raw = Path(self.env["nnUNet_raw"]) / self.dataset
        self.preprocessed = Path(self.env["nnUNet_preprocessed"]) / self.dataset
        self.model = Path(self.env["nnUNet_results"]) / self.dataset / f"{args.trainer}__{PLANS_NAME}__3d_fullres"
        self.results_file = self.root / "results.json"
        self.results = json.loads(self.results_file.read_text()) if self.results_file.exists() else {}

    def save(self) -> None:
        write_text_atomic(self.results_file, json.dumps(self.results, indent=2) + "\n")

    def command(self, *argv) -> float:
        start = time.perf_counter()
        run_command([str(a) for a in argv], self.env, self.root / "commands.log")
        return round(time.perf_counter() - start, 1)

    def data(self) -> None:
        if (self.raw / "dataset.json").exists() and "symmetric_s" in self.results.get("data", {}):
            return
        data = self.results.setdefault("data", {"domains": self.args.domains.split(",")})
        if not (self.raw / "dataset.json").exists():
            start = time.perf_counter()
            write_nnunet_dataset(self.env["nnUNet_raw"], DATASET_ID, DATASET_NAME,
                                 self.args.train_cases + self.args.val_cases, 0, self.args.domains.split(","),
                                 self.args.seed, progress=True, workers=self.args.workers)
            data["simulate_s"] = round(time.perf_counter() - start, 1)
        data["symmetric_s"] = self.command("isla", "add-symmetric-channels", self.raw / "imagesTr")
        self.save()

    def plan(self) -> None:
        if not (self.preprocessed / f"{PLANS_NAME}.json").exists():
            self.results.setdefault("data", {})["plan_s"] = self.command(
                "isla", "plan", "--planner", "clerigues", "-d", DATASET_ID, "-np", self.args.workers)
            self.save()
        ids = sorted(p.name.removesuffix(".nii.gz") for p in (self.raw / "labelsTr").glob("*.nii.gz"))
        split = [{"train": ids[:self.args.train_cases], "val": ids[self.args.train_cases:]}]
        (self.preprocessed / "splits_final.json").write_text(json.dumps(split, indent=1) + "\n")

    def train(self) -> None:
        fold = self.model / "fold_0"
        if (fold / "checkpoint_final.pth").exists() and "training" in self.results:
            return
        argv = ["nnUNetv2_train", DATASET_ID, "3d_fullres", 0, "-p", PLANS_NAME, "-tr", self.args.trainer,
                "-device", "cpu", "--npz"]
        if (fold / "checkpoint_latest.pth").exists():
            argv.append("--c")
        wall = None
        if not (fold / "checkpoint_final.pth").exists():
            print(f"training {self.args.trainer}; log {self.root / 'commands.log'}", flush=True)
            wall = self.command(*argv)
        log = next(fold.glob("training_log_*.txt")).read_text()
        self.results["training"] = {
            "trainer": self.args.trainer, "wall_s": wall, "train_cases": self.args.train_cases,
            "val_cases": self.args.val_cases,
            "monitor_per_epoch": [float(line.split("validation L1 + error rate ")[1].split()[0])
                                  for line in log.splitlines() if "validation L1 + error rate " in line],
            "kept": [line.split(": ", 1)[1] for line in log.splitlines() if "are kept" in line],
            "validation_dice_nnunet": json.loads((fold / "validation" / "summary.json").read_text())
            ["foreground_mean"]["Dice"],
        }
        self.save()

    def postprocessing(self) -> None:
        if "postprocessing" in self.results:
            return
        self.command("isla", "search-postprocessing", "-m", self.model)
        chosen = json.loads((self.model / "postprocessing.json").read_text())
        self.results["postprocessing"] = {k: chosen[k] for k in ("threshold", "min_size_voxels", "score")}
        self.save()


def main() -> int:
    args = parse_args()
    run = Run(args)
    run.root.mkdir(parents=True, exist_ok=True)
    for stage in (run.data, run.plan, run.train, run.postprocessing):
        print(f"== {stage.__name__}", flush=True)
        stage()
    print(json.dumps(run.results, indent=1))
    print(f"model: {run.model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
