"""Does Mean Teacher adapt? ISLA-B against ISLA-MT on a simulated domain shift, same training budget.

Simulates labeled cases from the ``source`` domain (clean, b1000) and unlabeled plus test cases from
the ``target`` domain (noisier, stronger bias field, b800, lower DWI gamma; see
:mod:`isla_nnunet.simulation.domains`), plans them with ``isla plan``, trains ISLA-B and ISLA-MT with
the stock ``nnUNetv2_train`` for the same number of epochs (same labeled batches per epoch; MT also
sees as many unlabeled images per step), predicts the target-domain test cases with
``nnUNetv2_predict`` and prints the per-case and mean Dice of both. As a diagnostic it also predicts
with ISLA-MT's student (the checkpoint's ``student_weights``), which tells the teacher's EMA lag
apart from the effect of the consistency term.

The paper's schedule (300 epochs, 60-epoch ramp-up, EMA decay 0.99 then 0.999) needs thousands of
steps; a CPU-sized run has tens. The experiment therefore trains subclasses of ``ISLATrainer_B`` and
``ISLATrainer_MT`` with the epochs, ramp-up and EMA decays given on the command line, written to a
trainer module in the work folder (the documented way to change Mean Teacher settings). Each step is
skipped when its output exists, so an interrupted run resumes.

Usage (CPU-sized defaults, about 20 minutes on an idle 2-core machine)::

    python scripts/experiment_mean_teacher.py --workdir mt_experiment
    python scripts/experiment_mean_teacher.py --workdir mt_gpu --device cuda --epochs 100 \
        --rampup-epochs 20 --ema-decays 0.99 0.999 --n-train 40 --n-unlabeled 40 --n-test 20 \
        --features 8,16,32,64,128,256
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from isla_nnunet import nnunet_cli
from isla_nnunet.planning import CONFIGURATION, PLANS_NAME

TRAINER_MODULE = """\"\"\"Trainers of one Mean Teacher experiment (written by scripts/experiment_mean_teacher.py).\"\"\"

from isla_nnunet.training.mean_teacher import ISLATrainer_MT
from isla_nnunet.training.variants import ISLATrainer_B


class {b_name}(ISLATrainer_B):
    epochs = {epochs}


class {mt_name}(ISLATrainer_MT):
    epochs = {epochs}
    rampup_epochs = {rampup}
    consistency_weight_max = {weight}
    ema_decay_during_rampup = {during}
    ema_decay_after_rampup = {after}
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("mt_experiment"))
    parser.add_argument("--dataset-id", type=int, default=993)
    parser.add_argument("--n-train", type=int, default=10, help="labeled source-domain cases (5-fold split)")
    parser.add_argument("--n-unlabeled", type=int, default=8, help="unlabeled target-domain images")
    parser.add_argument("--n-test", type=int, default=6, help="labeled target-domain test cases")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rampup-epochs", type=int, default=2, help="consistency ramp-up (paper: 60 of 300)")
    parser.add_argument("--weight", type=float, default=5.0, help="consistency weight w_max (paper: 5)")
    parser.add_argument("--ema-decays", type=float, nargs=2, default=(0.9, 0.95), metavar=("DURING", "AFTER"),
                        help="EMA decay during / after the ramp-up (paper: 0.99 0.999, for thousands of steps)")
    parser.add_argument("--features", default="8,8,16,16,32,32", help="filters per level (isla plan --features)")
    parser.add_argument("--gpu-memory-target", type=float, default=2.0, help="sets the batch (2 GB -> batch 2)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def trainer_names(args) -> tuple[str, str]:
    settings = json.dumps([args.epochs, args.rampup_epochs, args.weight, list(args.ema_decays)])
    tag = hashlib.sha1(settings.encode()).hexdigest()[:8]
    return f"ISLAExpTrainer_B_{args.epochs}ep", f"ISLAExpTrainer_MT_{args.epochs}ep_{tag}"


def write_trainers(folder: Path, args) -> tuple[str, str]:
    b_name, mt_name = trainer_names(args)
    folder.mkdir(parents=True, exist_ok=True)
    during, after = args.ema_decays
    source = TRAINER_MODULE.format(b_name=b_name, mt_name=mt_name, epochs=args.epochs, rampup=args.rampup_epochs,
                                   weight=float(args.weight), during=float(during), after=float(after))
    target = folder / "isla_mt_experiment_trainers.py"
    if not target.exists() or target.read_text() != source:
        partial = target.with_suffix(".tmp")
        partial.write_text(source)
        os.replace(partial, target)
    return b_name, mt_name


def predict_with_student(model: Path, images: Path, out: Path, env: dict, device: str) -> None:
    """Predict ``images`` with the student stored in an ISLA-MT checkpoint (the teacher is the exported model)."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("nnUNet")})
    import torch
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

    from isla_nnunet.io.checkpoints import load_checkpoint
    from isla_nnunet.prediction.predictor import initialize_predictor

    predictor = nnUNetPredictor(use_mirroring=False, perform_everything_on_device=device != "cpu",
                                device=torch.device(device), allow_tqdm=False)
    initialize_predictor(predictor, model, (0,), "checkpoint_final.pth")
    checkpoint = load_checkpoint(model / "fold_0" / "checkpoint_final.pth")
    predictor.list_of_parameters = [checkpoint["student_weights"]]
    predictor.predict_from_files(str(images), str(out), num_processes_preprocessing=1,
                                 num_processes_segmentation_export=1)


def read_mask(path: Path) -> np.ndarray:
    import nibabel as nib

    return np.asanyarray(nib.load(str(path)).dataobj) > 0


def main() -> None:
    from isla_nnunet.evaluation.metrics import dice
    from isla_nnunet.simulation.dataset import write_nnunet_dataset

    args = parse_args()
    root = args.workdir.resolve()
    env = nnunet_cli.nnunet_environment(root)
    trainers_folder = root / "trainers"
    env["nnUNet_extTrainer"] = os.pathsep.join([env["nnUNet_extTrainer"], str(trainers_folder)])
    for name in nnunet_cli.FOLDER_VARIABLES:
        Path(env[name]).mkdir(parents=True, exist_ok=True)
    log = root / "experiment.log"
    seconds: dict[str, float] = {}

    def step(name, action, done: bool):
        if done:
            print(f"[{name}] already done")
            return
        print(f"[{name}] ...", flush=True)
        start = time.perf_counter()
        action()
        seconds[name] = time.perf_counter() - start
        print(f"[{name}] {seconds[name]:.0f} s", flush=True)

    def command(*argv):
        nnunet_cli.run(argv, env, log)

    dataset = f"Dataset{args.dataset_id:03d}_MTShift"
    raw = Path(env["nnUNet_raw"]) / dataset
    step("simulate", lambda: write_nnunet_dataset(
        env["nnUNet_raw"], args.dataset_id, "MTShift", args.n_train, args.n_test, domain="source", seed=args.seed,
        n_unlabeled=args.n_unlabeled, unlabeled_domain="target", test_domain="target"),
        done=(raw / "dataset.json").exists())
    step("plan", lambda: command("isla", "plan", "-d", args.dataset_id, "--features", args.features,
                                 "--gpu-memory-target", args.gpu_memory_target),
         done=(Path(env["nnUNet_preprocessed"]) / dataset / f"{PLANS_NAME}.json").exists())
    b_name, mt_name = write_trainers(trainers_folder, args)

    results = {}
    for label, trainer in (("ISLA-B", b_name), ("ISLA-MT", mt_name), ("MT student", mt_name)):
        model = Path(env["nnUNet_results"]) / dataset / f"{trainer}__{PLANS_NAME}__{CONFIGURATION}"
        student = label == "MT student"
        if not student:
            step(f"train {label}", lambda t=trainer: command(
                "nnUNetv2_train", args.dataset_id, CONFIGURATION, 0, "-p", PLANS_NAME, "-tr", t, "-device",
                args.device), done=(model / "fold_0" / "checkpoint_final.pth").exists())
        out = root / "predictions" / trainer / ("student" if student else "model")

        def predict(trainer=trainer, model=model, out=out, student=student):
            if student:
                predict_with_student(model, raw / "imagesTs", out, env, args.device)
                return
            command("nnUNetv2_predict", "-i", raw / "imagesTs", "-o", out, "-d", args.dataset_id, "-c",
                    CONFIGURATION, "-p", PLANS_NAME, "-tr", trainer, "-f", 0, "-device", args.device,
                    "--disable_tta", "-npp", 1, "-nps", 1)

        step(f"predict {label}", predict, done=len(list(out.glob("*.nii.gz"))) == args.n_test)
        cases = sorted(p.name for p in (raw / "labelsTs").glob("*.nii.gz"))
        results[label] = {c.split(".")[0]: dice(read_mask(out / c), read_mask(raw / "labelsTs" / c)) for c in cases}
        summary = model / "fold_0" / "validation" / "summary.json"
        if summary.exists() and not student:  # nnU-Net's validation is the teacher's
            results[label]["source validation"] = json.loads(summary.read_text())["foreground_mean"]["Dice"]

    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, device {args.device}"
    print(f"\n{machine}; epochs {args.epochs}, ramp-up {args.rampup_epochs}, w_max {args.weight:g}, "
          f"EMA decays {args.ema_decays[0]:g}/{args.ema_decays[1]:g}, {args.n_train} labeled source "
          f"(fold 0), {args.n_unlabeled} unlabeled target, {args.n_test} target test, seed {args.seed}")
    labels = list(results)
    print(f"{'case':<20}" + "".join(f" {label:>10}" for label in labels))
    cases = [c for c in results["ISLA-B"] if c != "source validation"]
    for case in cases:
        print(f"{case:<20}" + "".join(f" {results[label][case]:>10.3f}" for label in labels))
    means = {label: statistics.mean(r[c] for c in cases) for label, r in results.items()}
    print(f"{'target test mean':<20}" + "".join(f" {means[label]:>10.3f}" for label in labels))
    print(f"{'source validation':<20}" + "".join(
        f" {results[label]['source validation']:>10.3f}" if "source validation" in results[label] else f" {'-':>10}"
        for label in labels))
    print("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()))
    verdict = "beat" if means["ISLA-MT"] > means["ISLA-B"] else "did not beat"
    print(f"ISLA-MT {verdict} ISLA-B on the target domain at this budget "
          f"({means['ISLA-MT']:.3f} vs {means['ISLA-B']:.3f} mean Dice).")
    (root / "results.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                   "dice": results, "seconds": seconds}, indent=2) + "\n")


if __name__ == "__main__":
    main()
