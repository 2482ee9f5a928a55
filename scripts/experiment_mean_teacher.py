"""Does Mean Teacher adapt? ISLA-B against ISLA-MT fine-tuned from one source-trained checkpoint, several seeds.

Protocol (docs/mean_teacher.md, "Evidence"):

* start: a source-trained ISLA-B checkpoint (default: the shipped model, trained on 160 simulated
  ``source`` cases); it is scored on the target and source test cases as it is;
* per seed ``s``: a dataset of ``--train-cases`` labeled ``source`` cases (+ ``--val-cases`` for nnU-Net's
  validation) and ``--unlabeled`` unlabeled ``target`` images, simulated with seed ``s``, planned with
  ``isla plan`` (the plans must build the starting checkpoint's network);
* arms, every one ``nnUNetv2_train ... -pretrained_weights START`` for the same passes over the same
  labeled cases (same number of steps and labeled batches): ``B`` (ISLA-B's recipe, source only) and
  ``MT-w<W>`` for each ``--weights`` (ISLA-MT: also a batch of unlabeled target images per step). The
  learning rate decays linearly over the run from ``--lr``; the consistency ramp-up and the EMA
  decays are scaled to the run (``--rampup-passes``, ``--ema-decays``) and recorded;
* test: every arm's model (for MT the teacher, the exported model; the student as a diagnostic) on
  ``--test-cases`` labeled ``target`` cases shared by all seeds and ``--source-test-cases`` ``source``
  cases; per-case metrics by :func:`isla_nnunet.evaluation.evaluate` (what ``isla evaluate`` runs),
  the ISLES'22 ranking over all seeds' cases by :func:`isla_nnunet.evaluation.rank_runs` (``isla rank``);
* curves: a checkpoint after every pass, scored (teacher and student) on ``--monitor-cases`` labeled
  ``target`` cases that are not test cases, with the supervised and consistency losses per pass;
* paired comparison, each MT arm against B: difference of mean target Dice per seed, per-case
  differences over all seeds with an exact two-sided sign test and a bootstrap 95 % interval.

Every stage is skipped when its output exists and training resumes from the per-pass
``checkpoint_latest.pth`` (``--c``), so an interrupted run continues. Figures: ``WORKDIR/results.json``,
``WORKDIR/table.md`` and ``WORKDIR/curves.png``. Keep WORKDIR outside the repository.

Usage::

    nice python scripts/experiment_mean_teacher.py --workdir ~/isla_runs/mt          # ~2 h on 2 cores
    python scripts/experiment_mean_teacher.py --workdir /tmp/mt --seeds 0 --train-cases 4 --val-cases 2 \
        --unlabeled 4 --test-cases 2 --source-test-cases 1 --monitor-cases 1 --passes 1
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from isla_nnunet.nnunet import commands as nnunet_cli
from isla_nnunet.nnunet import isla_plans, planning
from isla_nnunet.prediction.shipped import shipped_model_folder

TEST_SETS = {  # name: (dataset id, domain, simulation seed); seeds far from the training seeds
    "target_test": (700, "target", 1000),
    "target_monitor": (701, "target", 2000),
    "source_test": (702, "source", 3000),
}
FIRST_TRAINING_ID = 710
CONFIGURATION = isla_plans.CONFIGURATION
PLANS = isla_plans.PLANS_NAME

TRAINER_MODULE = '''"""Trainers of one Mean Teacher experiment (written by scripts/experiment_mean_teacher.py)."""

import os

import torch

from isla_nnunet.training.mean_teacher import ISLATrainer_MT
from isla_nnunet.training.variants import ISLATrainer_B


class FineTune:
    """Continue a pretrained model: learning rate {lr0:g} -> {lr1:g} over the run, a checkpoint every pass."""

    # nnU-Net records __init__'s named arguments for its checkpoints, so the signature is spelled out.
    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):  # noqa: B008
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.initial_lr, self.final_lr = {lr0!r}, {lr1!r}
        self.save_every = 1  # checkpoint_latest after every pass, so --c loses at most one

    def on_epoch_end(self):
        super().on_epoch_end()
        # After the increment: pass{{n}} holds the model after n passes (the curves' points).
        self.save_checkpoint(os.path.join(self.output_folder, f"pass{{self.current_epoch:03d}}.pth"))


class {b_name}(FineTune, ISLATrainer_B):
    epochs = {passes}

{mt_classes}'''

MT_CLASS = '''
class {name}(FineTune, ISLATrainer_MT):
    epochs = {passes}
    rampup_epochs = {rampup}
    consistency_weight_max = {weight!r}
    ema_decay_during_rampup = {during!r}
    ema_decay_after_rampup = {after!r}
'''


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="run folder (outside the repository)")
    parser.add_argument("--pretrained", type=Path, help="source-trained ISLA-B model folder "
                        "(<trainer>__ISLAPlans__3d_fullres); default: the shipped model")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--weights", type=float, nargs="+", default=[5.0], help="MT arms' w_max (paper: 5)")
    parser.add_argument("--train-cases", type=int, default=40, help="labeled source cases per seed")
    parser.add_argument("--val-cases", type=int, default=4, help="labeled source cases for nnU-Net's validation")
    parser.add_argument("--unlabeled", type=int, default=40, help="unlabeled target images per seed")
    parser.add_argument("--test-cases", type=int, default=20, help="labeled target test cases (all seeds)")
    parser.add_argument("--source-test-cases", type=int, default=10)
    parser.add_argument("--monitor-cases", type=int, default=4, help="labeled target cases for the curves")
    parser.add_argument("--passes", type=int, default=5, help="passes over the labeled training cases")
    parser.add_argument("--rampup-passes", type=int, default=1, help="consistency ramp-up (paper: 60 of 300)")
    parser.add_argument("--ema-decays", type=float, nargs=2, default=(0.9, 0.97), metavar=("DURING", "AFTER"),
                        help="EMA decay during / after the ramp-up (paper: 0.99 / 0.999 over ~75,000 steps)")
    parser.add_argument("--lr", type=float, nargs=2, default=(2e-4, 2e-6), metavar=("FIRST", "LAST"),
                        help="learning rate, linear over the run (ISLA's ratio 100; 5e-4 with a fresh Adam "
                             "state cost the start 0.1 source Dice in 4 steps)")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="processes simulating, planning, evaluating")
    parser.add_argument("--device", default="cpu")
    return parser.parse_args()


class Experiment:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.root = args.workdir.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.env = nnunet_cli.nnunet_environment(self.root)
        self.trainers_folder = self.root / "trainers"
        self.env["nnUNet_extTrainer"] = os.pathsep.join([self.env["nnUNet_extTrainer"], str(self.trainers_folder)])
        # The in-process predictor and planner read the same folders as the commands.
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("nnUNet")})
        self.start = (args.pretrained or shipped_model_folder()).resolve()
        self.results_file = self.root / "results.json"
        self.results = json.loads(self.results_file.read_text()) if self.results_file.exists() else {}
        self.b_name, self.mt_names = self.write_trainers()

    # --- bookkeeping -----------------------------------------------------------------------------
    def save(self) -> None:
        partial = self.results_file.with_suffix(".json.tmp")
        partial.write_text(json.dumps(self.results, indent=1) + "\n")
        os.replace(partial, self.results_file)

    def command(self, *argv, log: str) -> float:
        start = time.perf_counter()
        nnunet_cli.run(argv, self.env, self.root / "logs" / log)
        return round(time.perf_counter() - start, 1)

    def write_trainers(self) -> tuple[str, dict[float, str]]:
        a = self.args
        settings = json.dumps([a.passes, a.rampup_passes, list(a.ema_decays), list(a.lr), a.train_cases])
        tag = hashlib.sha1(settings.encode()).hexdigest()[:6]
        b_name = f"ISLAExpTrainer_B_ft{a.passes}p_{tag}"
        mt_names = {w: f"ISLAExpTrainer_MT_w{w:g}_ft{a.passes}p_{tag}".replace(".", "p") for w in a.weights}
        mt_classes = "".join(MT_CLASS.format(name=name, passes=a.passes, rampup=a.rampup_passes, weight=float(w),
                                             during=float(a.ema_decays[0]), after=float(a.ema_decays[1]))
                             for w, name in mt_names.items())
        source = TRAINER_MODULE.format(lr0=float(a.lr[0]), lr1=float(a.lr[1]), b_name=b_name, passes=a.passes,
                                       mt_classes=mt_classes)
        self.trainers_folder.mkdir(parents=True, exist_ok=True)
        target = self.trainers_folder / f"isla_mt_experiment_{tag}.py"
        if not target.exists() or target.read_text() != source:
            partial = target.with_suffix(".tmp")
            partial.write_text(source)
            os.replace(partial, target)
        return b_name, mt_names

    def arms(self) -> dict[str, str]:
        return {"B": self.b_name, **{f"MT-w{w:g}": name for w, name in self.mt_names.items()}}

    # --- data ------------------------------------------------------------------------------------
    def raw(self, dataset_id: int) -> Path:
        return next(Path(self.env["nnUNet_raw"]).glob(f"Dataset{dataset_id:03d}_*"))

    def simulate_test_sets(self) -> None:
        from isla_nnunet.simulation import write_nnunet_dataset

        sizes = {"target_test": self.args.test_cases, "target_monitor": self.args.monitor_cases,
                 "source_test": self.args.source_test_cases}
        for name, (dataset_id, domain, seed) in TEST_SETS.items():
            if list(Path(self.env["nnUNet_raw"]).glob(f"Dataset{dataset_id:03d}_*/dataset.json")):
                continue
            print(f"simulating {sizes[name]} {domain} cases ({name})", flush=True)
            # One labeled case is the dataset format's minimum; only the test cases are used.
            write_nnunet_dataset(self.env["nnUNet_raw"], dataset_id, name.title().replace("_", ""), 1, sizes[name],
                                 domain, seed, workers=self.args.workers)

    def training_dataset(self, seed: int) -> int:
        from isla_nnunet.simulation import write_nnunet_dataset

        dataset_id = FIRST_TRAINING_ID + seed
        if not list(Path(self.env["nnUNet_raw"]).glob(f"Dataset{dataset_id:03d}_*/dataset.json")):
            print(f"seed {seed}: simulating {self.args.train_cases + self.args.val_cases} source cases and "
                  f"{self.args.unlabeled} unlabeled target images", flush=True)
            write_nnunet_dataset(self.env["nnUNet_raw"], dataset_id, f"MTSeed{seed}",
                                 self.args.train_cases + self.args.val_cases, 0, "source", seed,
                                 n_unlabeled=self.args.unlabeled, unlabeled_domain="target",
                                 workers=self.args.workers)
        preprocessed = Path(self.env["nnUNet_preprocessed"]) / self.raw(dataset_id).name
        if not (preprocessed / f"{PLANS}.json").exists():
            print(f"seed {seed}: planning", flush=True)
            planning.plan_and_preprocess(dataset_id, num_processes=self.args.workers, batch_size=self.args.batch)
        self.check_plans(preprocessed / f"{PLANS}.json")
        ids = sorted(p.name.removesuffix(".nii.gz") for p in (self.raw(dataset_id) / "labelsTr").glob("*.nii.gz"))
        split = [{"train": ids[:self.args.train_cases], "val": ids[self.args.train_cases:]}]
        (preprocessed / "splits_final.json").write_text(json.dumps(split, indent=1) + "\n")
        return dataset_id

    def check_plans(self, plans_file: Path) -> None:
        """The arms load the starting weights into a network built from these plans: the same network."""
        mine = json.loads(plans_file.read_text())["configurations"][CONFIGURATION]
        start = json.loads((self.start / "plans.json").read_text())["configurations"][CONFIGURATION]
        keys = ("architecture", "patch_size", "spacing", "batch_size")
        if any(mine.get(k) != start.get(k) for k in keys):
            differing = [k for k in keys if mine.get(k) != start.get(k)]
            raise SystemExit(f"{plans_file} differs from {self.start / 'plans.json'} in {differing}: plan with the "
                             "starting model's settings (--batch) or give --pretrained a model of these plans")

    # --- training --------------------------------------------------------------------------------
    def model_folder(self, dataset_id: int, trainer: str) -> Path:
        return (Path(self.env["nnUNet_results"]) / self.raw(dataset_id).name
                / f"{trainer}__{PLANS}__{CONFIGURATION}")

    def train(self, dataset_id: int, trainer: str, log: str) -> dict:
        fold = self.model_folder(dataset_id, trainer) / "fold_0"
        if (fold / "checkpoint_final.pth").exists():
            return {}
        argv = ["nnUNetv2_train", dataset_id, CONFIGURATION, 0, "-p", PLANS, "-tr", trainer, "-device",
                self.args.device]
        if (fold / "checkpoint_latest.pth").exists():
            argv.append("--c")
        else:
            argv += ["-pretrained_weights", self.start / "fold_0" / "checkpoint_final.pth"]
        print(f"training {trainer} on dataset {dataset_id}; log {self.root / 'logs' / log}", flush=True)
        return {"train_wall_s": self.command(*argv, log=log)}

    # --- prediction and scoring ------------------------------------------------------------------
    def predict(self, model: Path, checkpoint: Path, key: str, images: Path, out: Path) -> None:
        """Predict ``images`` with the weights under ``key`` of ``checkpoint`` (a fold of ``model``)."""
        if out.is_dir() and len(list(out.glob("*.nii.gz"))) == len(list(images.glob("*_0000.nii.gz"))):
            return
        import torch
        from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

        from isla_nnunet.io.checkpoints import load_checkpoint
        from isla_nnunet.prediction.predictor import initialize_predictor

        predictor = nnUNetPredictor(use_mirroring=False, perform_everything_on_device=self.args.device != "cpu",
                                    device=torch.device(self.args.device), allow_tqdm=False, verbose=False)
        initialize_predictor(predictor, model, (0,), "checkpoint_final.pth")
        predictor.list_of_parameters = [load_checkpoint(checkpoint)[key]]
        partial = out.with_name(out.name + ".partial")
        predictor.predict_from_files(str(images), str(partial), num_processes_preprocessing=1,
                                     num_processes_segmentation_export=1)
        os.replace(partial, out)

    def score(self, predictions: Path, test_set: str, output: Path) -> list[dict]:
        from isla_nnunet.evaluation import evaluate

        if not output.exists():
            evaluate(predictions, self.raw(TEST_SETS[test_set][0]) / "labelsTs", output=output,
                     workers=self.args.workers)
        with output.open() as table:
            return list(csv.DictReader(table))

    def test_model(self, name: str, model: Path, checkpoint: Path, key: str, sets=("target_test", "source_test")):
        scores = {}
        for test_set in sets:
            out = self.root / "predictions" / name / test_set
            self.predict(model, checkpoint, key, self.raw(TEST_SETS[test_set][0]) / "imagesTs", out)
            scores[test_set] = self.score(out, test_set, self.root / "metrics" / name / f"{test_set}.csv")
        return scores

    def curves(self, seed: int, arm: str, model: Path) -> list[dict]:
        """Median target Dice of teacher and student after every pass, on the monitor cases."""
        from isla_nnunet.evaluation.metrics import dice

        from_mt = arm != "B"
        labels = self.raw(TEST_SETS["target_monitor"][0]) / "labelsTs"
        images = self.raw(TEST_SETS["target_monitor"][0]) / "imagesTs"
        points = []
        for checkpoint in sorted((model / "fold_0").glob("pass*.pth")):
            point = {"pass": int(checkpoint.stem.removeprefix("pass"))}
            for network, key in (("teacher", "network_weights"), ("student", "student_weights")):
                if network == "student" and not from_mt:
                    continue
                out = self.root / "curves" / f"seed{seed}" / arm / checkpoint.stem / network
                self.predict(model, checkpoint, key, images, out)
                point[f"{network}_target_dice"] = statistics.median(
                    dice(read_mask(out / p.name), read_mask(p)) for p in sorted(labels.glob("*.nii.gz")))
            points.append(point)
        losses = training_losses(model / "fold_0")
        for point, loss in zip(points, losses, strict=False):
            point.update(loss)
        return points

    # --- the protocol ----------------------------------------------------------------------------
    def run(self) -> None:
        a = self.args
        self.results["settings"] = {
            "start": str(self.start), "seeds": a.seeds, "weights": a.weights, "train_cases": a.train_cases,
            "val_cases": a.val_cases, "unlabeled": a.unlabeled, "test_cases": a.test_cases,
            "source_test_cases": a.source_test_cases, "monitor_cases": a.monitor_cases, "passes": a.passes,
            "steps": a.passes * -(-a.train_cases // a.batch), "batch": a.batch, "rampup_passes": a.rampup_passes,
            "ema_decays": list(a.ema_decays), "lr": list(a.lr), "trainers": self.arms(),
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, device {a.device}",
            "date": time.strftime("%Y-%m-%d"),
        }
        self.simulate_test_sets()
        if "start" not in self.results:
            self.results["start"] = self.test_model("start", self.start, self.start / "fold_0" / "checkpoint_final.pth",
                                                    "network_weights")
            self.save()
        runs = self.results.setdefault("runs", {})
        for seed in a.seeds:
            dataset_id = self.training_dataset(seed)
            for arm, trainer in self.arms().items():
                key = f"seed{seed}/{arm}"
                if key in runs and "curves" in runs[key]:
                    continue
                timing = self.train(dataset_id, trainer, log=f"train_seed{seed}_{arm}.log")
                model = self.model_folder(dataset_id, trainer)
                final = model / "fold_0" / "checkpoint_final.pth"
                entry = {**runs.get(key, {}), **timing, "trainer": trainer, "dataset": dataset_id}
                entry["model"] = self.test_model(key, model, final, "network_weights")
                if arm != "B":
                    entry["student"] = self.test_model(f"{key}/student", model, final, "student_weights",
                                                       sets=("target_test",))
                entry["curves"] = self.curves(seed, arm, model)
                runs[key] = entry
                self.save()
        self.compare()

    def compare(self) -> None:
        from isla_nnunet.evaluation import rank_runs

        a = self.args
        arms = list(self.arms())
        runs = self.results["runs"]
        pooled = {}
        for arm in arms:
            rows = [{**row, "case": f"s{seed}_{row['case']}"} for seed in a.seeds
                    for row in runs[f"seed{seed}/{arm}"]["model"]["target_test"]]
            pooled[arm] = self.root / "metrics" / f"pooled_{arm}.csv"
            write_rows(pooled[arm], rows)
        ranking = rank_runs(list(pooled.values()), names=arms, workers=1)
        self.results["ranking"] = ranking.format()
        comparisons = {}
        for arm in arms[1:]:
            per_seed = {seed: mean_of(runs[f"seed{seed}/{arm}"]["model"]["target_test"], "dice")
                        - mean_of(runs[f"seed{seed}/B"]["model"]["target_test"], "dice") for seed in a.seeds}
            differences = [float(m["dice"]) - float(b["dice"]) for seed in a.seeds
                           for m, b in zip(by_case(runs[f"seed{seed}/{arm}"]["model"]["target_test"]),
                                           by_case(runs[f"seed{seed}/B"]["model"]["target_test"]), strict=True)]
            comparisons[f"{arm} - B"] = {"per_seed_mean_dice_difference": per_seed,
                                         "ahead_in_every_seed": all(d > 0 for d in per_seed.values()),
                                         **paired_statistics(differences)}
        self.results["comparisons"] = comparisons
        self.save()
        table = markdown_table(self.results, arms, a.seeds)
        (self.root / "table.md").write_text(table)
        print(table)
        plot_curves(self.results, arms, a.seeds, self.root / "curves.png")


# --- helpers -------------------------------------------------------------------------------------
def read_mask(path: Path) -> np.ndarray:
    import nibabel as nib

    return np.asanyarray(nib.load(str(path)).dataobj) > 0


def training_losses(fold: Path) -> list[dict]:
    """Per pass: nnU-Net's training loss, and for MT the supervised and consistency terms of its log."""
    from isla_nnunet.io.checkpoints import load_checkpoint

    final = fold / "checkpoint_final.pth"
    losses = [{"train_loss": float(v)} for v in load_checkpoint(final)["logging"]["train_losses"]]
    pattern = re.compile(r"Mean Teacher: supervised loss ([-\d.e]+), consistency loss ([-\d.e]+)")
    found = []
    for log in sorted(fold.glob("training_log_*.txt")):
        found += [(float(m[1]), float(m[2])) for m in pattern.finditer(log.read_text())]
    for loss, (supervised, consistency) in zip(losses, found[-len(losses):], strict=False):
        loss.update(supervised_loss=supervised, consistency_loss=consistency)
    return losses


def write_rows(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def by_case(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: r["case"])


def values(rows: list[dict], metric: str) -> list[float]:
    return [float(r[metric]) for r in rows if r[metric] not in ("", "nan", "inf")]


def mean_of(rows: list[dict], metric: str) -> float:
    return statistics.mean(values(rows, metric))


def paired_statistics(differences: list[float], resamples: int = 10000) -> dict:
    """Sign test (exact, two-sided, ties dropped) and a percentile bootstrap interval of the mean difference."""
    from scipy.stats import binomtest

    wins = sum(d > 0 for d in differences)
    losses = sum(d < 0 for d in differences)
    p = binomtest(wins, wins + losses).pvalue if wins + losses else 1.0
    rng = np.random.default_rng(0)
    sample = np.asarray(differences)
    means = sample[rng.integers(0, len(sample), (resamples, len(sample)))].mean(axis=1)
    return {"cases": len(differences), "mean_case_difference": float(sample.mean()),
            "median_case_difference": float(np.median(sample)), "cases_better": wins, "cases_worse": losses,
            "sign_test_p": float(p), "bootstrap_95": [float(np.percentile(means, 2.5)),
                                                       float(np.percentile(means, 97.5))]}


def summary(rows: list[dict]) -> str:
    dice, f1, avd, hd95 = (values(rows, m) for m in ("dice", "lesion_f1", "avd_ml", "hd95_mm"))
    return (f"{statistics.mean(dice):.3f} | {statistics.median(dice):.3f} | {statistics.mean(f1):.3f} | "
            f"{statistics.mean(avd):.2f} | {statistics.median(hd95):.1f}")


def markdown_table(results: dict, arms: list[str], seeds: list[int]) -> str:
    s = results["settings"]
    lines = [f"Mean Teacher experiment, {s['date']}, {s['machine']}: from {Path(s['start']).name}, "
             f"{s['passes']} passes = {s['steps']} steps of batch {s['batch']} per arm, {s['train_cases']} labeled "
             f"source cases, {s['unlabeled']} unlabeled target images, ramp-up {s['rampup_passes']} pass(es), "
             f"EMA {s['ema_decays'][0]:g}/{s['ema_decays'][1]:g}, lr {s['lr'][0]:g} -> {s['lr'][1]:g}; "
             f"{s['test_cases']} target test cases (same for every seed)", "",
             "| model | seed | target mean Dice | median Dice | mean lesion F1 | mean AVD (ml) | median HD95 (mm) "
             "| source mean Dice |", "|---|---|---|---|---|---|---|---|"]
    start = results["start"]
    lines.append(f"| start | - | {summary(start['target_test'])} | {mean_of(start['source_test'], 'dice'):.3f} |")
    for arm in arms:
        for seed in seeds:
            run = results["runs"][f"seed{seed}/{arm}"]
            lines.append(f"| {arm} | {seed} | {summary(run['model']['target_test'])} | "
                         f"{mean_of(run['model']['source_test'], 'dice'):.3f} |")
            if "student" in run:
                lines.append(f"| {arm} student | {seed} | {summary(run['student']['target_test'])} | - |")
        pooled = [r for seed in seeds for r in results["runs"][f"seed{seed}/{arm}"]["model"]["target_test"]]
        source = [r for seed in seeds for r in results["runs"][f"seed{seed}/{arm}"]["model"]["source_test"]]
        lines.append(f"| **{arm}** | all | {summary(pooled)} | {mean_of(source, 'dice'):.3f} |")
    lines += ["", "Paired, against B (target Dice):", ""]
    for name, c in results["comparisons"].items():
        per_seed = ", ".join(f"seed {k} {v:+.3f}" for k, v in c["per_seed_mean_dice_difference"].items())
        lines.append(f"- {name}: per seed {per_seed}; per case mean {c['mean_case_difference']:+.3f} "
                     f"(bootstrap 95 % [{c['bootstrap_95'][0]:+.3f}, {c['bootstrap_95'][1]:+.3f}]), "
                     f"{c['cases_better']} better / {c['cases_worse']} worse of {c['cases']}, sign test "
                     f"p = {c['sign_test_p']:.3g}; ahead in every seed: {c['ahead_in_every_seed']}")
    lines += ["", "ISLES'22 ranking over all seeds' target test cases:", "", "```", results["ranking"], "```", ""]
    return "\n".join(lines)


def plot_curves(results: dict, arms: list[str], seeds: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (dice_axis, loss_axis) = plt.subplots(1, 2, figsize=(11, 4))
    colours = dict(zip(arms, ("tab:blue", "tab:red", "tab:green", "tab:purple"), strict=False))
    for arm in arms:
        for seed in seeds:
            curve = results["runs"][f"seed{seed}/{arm}"]["curves"]
            passes = [p["pass"] for p in curve]
            label = arm if seed == seeds[0] else None
            dice_axis.plot(passes, [p["teacher_target_dice"] for p in curve], "-o", color=colours[arm], label=label)
            if arm != "B":
                dice_axis.plot(passes, [p["student_target_dice"] for p in curve], ":", color=colours[arm],
                               label=f"{arm} student" if label else None)
                loss_axis.plot(passes, [p.get("consistency_loss", np.nan) for p in curve], ":", color=colours[arm],
                               label=f"{arm} consistency" if label else None)
            loss_axis.plot(passes, [p.get("supervised_loss", p["train_loss"]) for p in curve], "-",
                           color=colours[arm], label=f"{arm} supervised" if label else None)
    dice_axis.set(xlabel="pass", ylabel="median target Dice (monitor cases)", title="model (teacher) and student")
    loss_axis.set(xlabel="pass", ylabel="loss", title="training losses", yscale="symlog")
    dice_axis.legend(fontsize=8)
    loss_axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    experiment = Experiment(parse_args())
    experiment.run()
    print(f"results: {experiment.results_file}", file=sys.stderr)


if __name__ == "__main__":
    main()
