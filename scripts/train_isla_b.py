"""Train ISLA-B on simulated source-domain cases on a CPU, then test it on held-out and real cases.

``--block Res`` trains ISLA-B's recipe with residual blocks instead (ResUNet; a second ISLA variant for
votes and ensembles, ``ISLATrainer_UFL_Res_DS_SEAGs_CPU_<E>epochs``); everything else is the same.

Every stage is skipped when its output exists, and training resumes from nnU-Net's per-epoch
``checkpoint_latest.pth`` (``nnUNetv2_train ... --c``), so an interrupted run continues where it stopped:

1. data: ``--train-cases + --val-cases`` labeled cases of the ``--domains`` (default ``source``; several
   are taken in turn) and ``--test-cases`` test cases of the ``source`` domain, simulated on the
   reference grid (``write_nnunet_dataset``, ``--workers`` processes);
2. plan: ``isla plan`` with the default filters and a batch of ``--batch`` (2 suits 2 cores), and a
   ``splits_final.json`` whose fold 0 trains on the first ``--train-cases`` and validates on the rest;
3. train: ``nnUNetv2_train ID 3d_fullres 0 -p ISLAPlans -tr ISLATrainer_B_CPU_<E>epochs -device cpu``.
   The recipe is ISLA-B's (UFL, StdUNet, DS, SE + AGs, Adam, ISLA's augmentation, linear decay), with
   the CPU budget's learning rate 2e-3 -> 2e-5 (``isla_nnunet.training.variants.CPUBudget``); an epoch is
   one pass over the training cases, so the run is ``E * ceil(train_cases / batch)`` steps and the decay
   spans all of them (one rate per pass; the last pass runs at the final rate);
   With ``--pretrained MODEL`` the run continues a trained ISLA-B instead
   (``ISLATrainer_B_CPUFineTune_<E>epochs``, 2e-4 -> 2e-6, ``-pretrained_weights`` from MODEL's fold 0;
   the plans must build MODEL's network);
4. test: ``nnUNetv2_predict --disable_tta`` on the test cases in bf16 (the default on a bf16 CPU) and
   in float32 with probabilities, ``isla evaluate`` on the bf16 masks, and the bf16/float32 parity
   (mask Dice per case, max |p_bf16 - p_fp32|); on a processor without native bf16 only float32 (bf16
   would be emulated there, slowly, and is not what ``isla predict`` runs);
5. placement: the same test cases through ``isla predict``'s model path (the network on the whole
   reference frame, where training puts the brain) against ``nnUNetv2_predict`` (brain box cropped and
   padded centred): mask Dice between the two, max |delta p|, the box's offset from the frame centre,
   and the median Dice of each against the ground truth;
6. real: ``isla predict`` on ISLES'22 case 0009 and SOOP sub-3 from ``--data`` with their scores.

Figures go to ``WORKDIR/results.json`` and the learning curve to ``WORKDIR/.../fold_0/progress.png``.
Keep WORKDIR outside the repository.

Usage::

    nice python scripts/train_isla_b.py --workdir ~/isla_runs/isla_b            # about 2 h on 2 cores
    python scripts/train_isla_b.py --workdir /tmp/t --train-cases 4 --val-cases 2 --test-cases 2 --epochs 1
    nice python scripts/train_isla_b.py --workdir ~/isla_runs/ft --domains source,randomised \
        --pretrained isla_nnunet/shipped_model/ISLATrainer_B_CPUFineTune_10epochs__ISLAPlans__3d_fullres --epochs 5
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np

from isla_nnunet.evaluation.metrics import dice
from isla_nnunet.io.atomic import write_text_atomic
from isla_nnunet.nnunet import environment as nnunet_env
from isla_nnunet.nnunet import planning
from isla_nnunet.nnunet.commands import executable
from isla_nnunet.prediction.model_card import REAL_CASE_FILES
from isla_nnunet.simulation import write_nnunet_dataset
from isla_nnunet.training.variants import BLOCKS, CPU_BUDGET_MODELS, TRAINERS

DATASET_ID, DATASET_NAME = 601, "SimStrokeB"
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True, help="run folder (outside the repository)")
    parser.add_argument("--train-cases", type=int, default=160)
    parser.add_argument("--val-cases", type=int, default=20)
    parser.add_argument("--test-cases", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=10, help="passes; the <model>_CPU_<E>epochs trainer must exist")
    parser.add_argument("--block", choices=tuple(BLOCKS), default="Std",
                        help="StdUNet (ISLA-B, default) or ResUNet blocks with ISLA-B's recipe")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="simulation seed")
    parser.add_argument("--domains", default="source",
                        help="training domains, comma-separated, taken in turn (test cases: source)")
    parser.add_argument("--workers", type=int, default=2, help="processes simulating, planning, evaluating")
    parser.add_argument("--augmentation-workers", type=int, default=1, help="nnUNet_n_proc_DA while training")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with the real cases")
    parser.add_argument("--pretrained", type=Path,
                        help="trained ISLA-B model folder to continue (fine-tuning) instead of training from scratch")
    return parser.parse_args()


def code_commit() -> str | None:
    """The checkout's commit (``+changes`` when the tree differs from it): the simulator the data came from."""
    def git(*argv):
        return subprocess.run(["git", *argv], cwd=Path(__file__).resolve().parents[1], capture_output=True,
                              text=True, check=False)
    head = git("rev-parse", "--short=12", "HEAD")
    if head.returncode != 0:
        return None
    dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    return head.stdout.strip() + ("+changes" if dirty else "")


def trainer_name(epochs: int, fine_tuning: bool = False, block: str = "Std") -> str:
    model = next(m for m in CPU_BUDGET_MODELS if TRAINERS[m].block == BLOCKS[block])
    if fine_tuning and model != "ISLATrainer_B":
        raise SystemExit(f"--pretrained continues ISLA-B only; drop --block {block} or --pretrained")
    family = f"{model}_CPUFineTune_" if fine_tuning else f"{model}_CPU_"
    name = f"{family}{epochs}epochs"
    if name not in TRAINERS:
        choices = sorted(int(n.split("_")[-1].removesuffix("epochs")) for n in TRAINERS if n.startswith(family))
        raise SystemExit(f"no trainer {name}; --epochs must be one of {choices}")
    return name


class Run:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.root = args.workdir.resolve()
        self.env = {**os.environ, "nnUNet_raw": str(self.root / "raw"),
                    "nnUNet_preprocessed": str(self.root / "preprocessed"),
                    "nnUNet_results": str(self.root / "results")}
        listed = [p for p in os.environ.get("nnUNet_extTrainer", "").split(os.pathsep) if p]
        self.env["nnUNet_extTrainer"] = os.pathsep.join([str(nnunet_env.trainers_folder()), *listed])
        os.environ.update({k: self.env[k] for k in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results")})
        self.dataset = f"Dataset{DATASET_ID:03d}_{DATASET_NAME}"
        self.raw = self.root / "raw" / self.dataset
        self.preprocessed = self.root / "preprocessed" / self.dataset
        self.pretrained = args.pretrained.resolve() if args.pretrained else None
        if self.pretrained and not (self.pretrained / "fold_0" / "checkpoint_final.pth").exists():
            raise SystemExit(f"--pretrained {args.pretrained}: no fold_0/checkpoint_final.pth there; "
                             "give a trained-model folder (<trainer>__ISLAPlans__3d_fullres)")
        self.trainer = trainer_name(args.epochs, fine_tuning=self.pretrained is not None, block=args.block)
        self.model = self.root / "results" / self.dataset / f"{self.trainer}__ISLAPlans__3d_fullres"
        self.results_file = self.root / "results.json"
        self.results = json.loads(self.results_file.read_text()) if self.results_file.exists() else {}

    def save(self) -> None:
        write_text_atomic(self.results_file, json.dumps(self.results, indent=2) + "\n")

    def command(self, argv: list[str], log: Path, **env) -> dict:
        """Run ``argv`` with its output in ``log``; returns wall and CPU seconds (children included)."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        with log.open("a") as out:
            out.write(f"\n$ {' '.join(argv)}\n")
            out.flush()
            completed = subprocess.run(argv, env={**self.env, **env}, stdout=out, stderr=subprocess.STDOUT)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if completed.returncode:
            raise SystemExit(f"{argv[0]} failed (exit {completed.returncode}); see {log}")
        return {"wall_s": round(time.perf_counter() - start, 1),
                "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1)}

    def data(self) -> None:
        if (self.raw / "dataset.json").exists():
            return
        start = time.perf_counter()
        commit = code_commit()  # before simulating: a commit made meanwhile did not make these cases
        write_nnunet_dataset(self.root / "raw", DATASET_ID, DATASET_NAME,
                             self.args.train_cases + self.args.val_cases, self.args.test_cases,
                             self.args.domains.split(","), self.args.seed, test_domain="source",
                             progress=True, workers=self.args.workers)
        size = sum(p.stat().st_size for p in self.raw.rglob("*") if p.is_file())
        self.results["data"] = {"simulate_wall_s": round(time.perf_counter() - start, 1),
                                "raw_disk_mb": round(size / 2**20, 1), "workers": self.args.workers,
                                "domains": self.args.domains.split(","), "code_commit": commit}
        self.save()

    def plan(self) -> None:
        plans = self.preprocessed / "ISLAPlans.json"
        if not plans.exists():
            start = time.perf_counter()
            planning.plan_and_preprocess(DATASET_ID, num_processes=self.args.workers, batch_size=self.args.batch)
            size = sum(p.stat().st_size for p in self.preprocessed.rglob("*") if p.is_file())
            self.results.setdefault("data", {}).update(
                {"plan_preprocess_wall_s": round(time.perf_counter() - start, 1),
                 "preprocessed_disk_mb": round(size / 2**20, 1)})
            self.save()
        ids = sorted(json.loads((self.raw / "simulation.json").read_text())["cases"])
        train_ids = [i for i in ids if (self.raw / "labelsTr" / f"{i}.nii.gz").exists()]
        # Validation takes the last labeled cases, so a dataset simulated for more training cases serves too.
        split = [{"train": train_ids[:self.args.train_cases], "val": train_ids[-self.args.val_cases:]}]
        if set(split[0]["train"]) & set(split[0]["val"]):
            raise SystemExit(f"{self.raw} has {len(train_ids)} labeled cases, fewer than "
                             f"--train-cases + --val-cases")
        (self.preprocessed / "splits_final.json").write_text(json.dumps(split, indent=1) + "\n")
        if self.pretrained:
            self.check_plans(plans)

    def check_plans(self, plans: Path) -> None:
        """The pretrained weights load only into the network they were trained in."""
        mine = json.loads(plans.read_text())["configurations"]["3d_fullres"]
        theirs = json.loads((self.pretrained / "plans.json").read_text())["configurations"]["3d_fullres"]
        differing = [k for k in ("architecture", "patch_size", "spacing") if mine.get(k) != theirs.get(k)]
        if differing:
            raise SystemExit(f"{plans} differs from {self.pretrained / 'plans.json'} in {differing}: "
                             "plan with the pretrained model's settings")

    def train(self) -> None:
        fold = self.model / "fold_0"
        if (fold / "checkpoint_final.pth").exists() and "training" in self.results:
            return
        argv = [executable("nnUNetv2_train"), str(DATASET_ID), "3d_fullres", "0", "-p", "ISLAPlans",
                "-tr", self.trainer, "-device", "cpu"]
        if (fold / "checkpoint_latest.pth").exists() or (fold / "checkpoint_final.pth").exists():
            argv.append("--c")
        elif self.pretrained:
            argv += ["-pretrained_weights", str(self.pretrained / "fold_0" / "checkpoint_final.pth")]
        steps_per_epoch = math.ceil(self.args.train_cases / self.args.batch)
        print(f"training {self.trainer}: {self.args.epochs} epochs x {steps_per_epoch} steps of batch "
              f"{self.args.batch} ({self.args.epochs * steps_per_epoch} steps); log {self.root / 'train.log'}")
        timing = self.command(argv, self.root / "train.log", nnUNet_n_proc_DA=str(self.args.augmentation_workers))
        summary = json.loads((fold / "validation" / "summary.json").read_text())
        self.results["training"] = {
            "trainer": self.trainer, "epochs": self.args.epochs, "steps_per_epoch": steps_per_epoch,
            "steps": self.args.epochs * steps_per_epoch, "batch": self.args.batch,
            "cases_seen": self.args.epochs * steps_per_epoch * self.args.batch,
            "distinct_training_cases": self.args.train_cases, **timing,
            "validation_dice_nnunet": summary["foreground_mean"]["Dice"],
            "pretrained": str(self.pretrained) if self.pretrained else None,
            "note": "wall/CPU of the last nnUNetv2_train invocation (a resumed run counts only its own part)",
        }
        self.save()

    def predict(self, out: Path, precision: str, probabilities: bool) -> dict:
        argv = [executable("nnUNetv2_predict"), "-i", str(self.raw / "imagesTs"), "-o", str(out), "-d", str(DATASET_ID),
                "-c", "3d_fullres", "-p", "ISLAPlans", "-tr", self.trainer, "-f", "0", "--disable_tta",
                "-device", "cpu", "-npp", "1", "-nps", "1"]
        if probabilities:
            argv.append("--save_probabilities")
        return self.command(argv, self.root / "predict.log", ISLA_CPU_PRECISION=precision)

    def test(self) -> None:
        if "test" in self.results:
            return
        from isla_nnunet.networks.cpu_execution import cpu_has_native_bf16

        bf16, fp32 = self.root / "test_bf16", self.root / "test_fp32"
        timing = {"fp32": self.predict(fp32, "fp32", True)}
        if cpu_has_native_bf16():
            timing["bf16"] = self.predict(bf16, "bf16", True)
            parity = self.parity(bf16, fp32)
        else:
            bf16, parity = fp32, "not measured: this processor has no native bf16"
        metrics = self.root / "test_metrics.csv"
        self.command([sys.executable, "-m", "isla_nnunet", "evaluate", "--pred", str(bf16), "--gt",
                      str(self.raw / "labelsTs"), "-o", str(metrics), "-j", str(self.args.workers),
                      "--no-progress"], self.root / "evaluate.log")
        with metrics.open() as table:
            rows = list(csv.DictReader(table))
        column = {name.lower(): name for name in rows[0]}
        per_case = {r[column.get("case", "case")]: {k: r[k] for k in r} for r in rows}
        self.results["test"] = {
            "cases": len(rows), "prediction_wall_s": timing,
            "median_dice": statistics.median(float(r[column["dice"]]) for r in rows),
            "median_lesion_f1": statistics.median(float(r[column["lesion_f1"]]) for r in rows),
            "per_case": per_case, "parity": parity, "masks": bf16.name,
        }
        self.save()

    @staticmethod
    def parity(bf16: Path, fp32: Path) -> dict:
        dices, differences = [], []
        for mask in sorted(bf16.glob("*.nii.gz")):
            a = np.asarray(nib.load(mask).dataobj) > 0
            b = np.asarray(nib.load(fp32 / mask.name).dataobj) > 0
            dices.append(dice(a, b))
            p = np.load(mask.with_name(mask.name.replace(".nii.gz", ".npz")))["probabilities"][1]
            q = np.load((fp32 / mask.name).with_name(mask.name.replace(".nii.gz", ".npz")))["probabilities"][1]
            differences.append(float(np.abs(p - q).max()))
        return {"min_mask_dice": min(dices), "median_mask_dice": statistics.median(dices),
                "max_abs_probability_difference": max(differences)}

    def placement(self) -> None:
        if "placement" in self.results:
            return
        from isla_nnunet.prediction.models import ModelSet

        rows = []
        with ModelSet.load([self.model], device="cpu", folds=[0]) as models:
            for label in sorted((self.raw / "labelsTs").glob("*.nii.gz")):
                case = label.name.removesuffix(".nii.gz")
                channels = np.stack([np.asarray(nib.load(self.raw / "imagesTs" / f"{case}_000{c}.nii.gz").dataobj,
                                                dtype=np.float32).transpose(2, 1, 0) for c in (0, 1)])
                full = models[0].lesion_probability(channels)
                masks = self.root / self.results["test"].get("masks", "test_bf16")
                cropped = np.load(masks / f"{case}.npz")["probabilities"][1].astype(np.float32)
                truth = np.asarray(nib.load(label).dataobj).transpose(2, 1, 0) > 0
                box = np.argwhere((channels != 0).any(axis=0))
                offset = (box.min(0) + box.max(0) + 1) / 2 - np.asarray(channels.shape[1:]) / 2
                rows.append({"case": case, "mask_dice_between": dice(full > 0.5, cropped > 0.5),
                             "max_abs_difference": float(np.abs(full - cropped).max()),
                             "box_offset_zyx_voxels": offset.round(1).tolist(),
                             "dice_full_frame": dice(full > 0.5, truth),
                             "dice_nnunet_crop": dice(cropped > 0.5, truth)})
        self.results["placement"] = {
            "median_mask_dice_between": statistics.median(r["mask_dice_between"] for r in rows),
            "min_mask_dice_between": min(r["mask_dice_between"] for r in rows),
            "max_abs_difference": max(r["max_abs_difference"] for r in rows),
            "median_dice_full_frame": statistics.median(r["dice_full_frame"] for r in rows),
            "median_dice_nnunet_crop": statistics.median(r["dice_nnunet_crop"] for r in rows),
            "per_case": rows,
        }
        self.save()

    def real(self) -> None:
        if "real" in self.results:
            return
        scores = {}
        for case, (dwi, adc, mask) in REAL_CASE_FILES.items():
            if not (self.args.data / dwi).exists():
                scores[case] = f"skipped: {self.args.data / dwi} not found"
                continue
            out = self.root / "real" / case
            timing = self.command([sys.executable, "-m", "isla_nnunet", "predict", "--dwi", str(self.args.data / dwi),
                                   "--adc", str(self.args.data / adc), "-m", str(self.model), "-o", str(out),
                                   "--device", "cpu", "--overwrite"], self.root / "real.log")
            metrics = out / "metrics.csv"
            predicted = out / "lesion_mask.nii.gz"
            self.command([sys.executable, "-m", "isla_nnunet", "evaluate", "--pred", str(predicted), "--gt",
                          str(self.args.data / mask), "-o", str(metrics), "-j", "1", "--no-progress"],
                         self.root / "real.log")
            with metrics.open() as table:
                scores[case] = {**next(csv.DictReader(table)), **timing}
        self.results["real"] = scores
        self.save()


def main() -> None:
    args = parse_args()
    run = Run(args)
    run.root.mkdir(parents=True, exist_ok=True)
    for stage in (run.data, run.plan, run.train, run.test, run.placement, run.real):
        print(f"== {stage.__name__}", flush=True)
        stage()
    print(json.dumps({k: v for k, v in run.results.items() if k != "test"}, indent=1))
    test = run.results["test"]
    print(f"test: {test['cases']} cases, median Dice {test['median_dice']:.3f}, "
          f"median lesion F1 {test['median_lesion_f1']:.3f}, parity {test['parity']}")


if __name__ == "__main__":
    main()
