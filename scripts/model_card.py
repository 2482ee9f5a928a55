"""Ship a trained ISLA-B model in the package and measure its model card.

Takes a finished ``scripts/train_isla_b.py`` run folder and

1. packs its fold 0 into ``isla_nnunet/shipped_model/`` (``pack_model``: plans, dataset, a float16
   checkpoint without optimizer state), replacing the model there;
2. predicts, through the same in-process path as ``isla predict`` without ``-m``, the real cases of
   ``--data`` (ISLES'22 0009, SOOP sub-3) and ``--cases`` simulated cases of each domain on its native
   grid (seed ``--seed``, a stream the training data did not use), and scores them with ``isla
   evaluate``'s metrics; then all of them again with ``isla predict --adc-check`` (``WORKDIR/adc_check``);
3. writes ``isla_nnunet/shipped_model/figures.json`` and renders ``docs/model_card.md`` from it.

Prediction outputs go to ``--workdir`` (outside the repository; finished cases are reused).

Usage::

    python scripts/model_card.py --run ~/isla_runs/isla_b --workdir ~/isla_runs/card
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import sys
from pathlib import Path

from isla_nnunet import shipped_demo

REPO = Path(__file__).resolve().parents[1]
DOMAINS = ("source", "target", "isles22-like", "soop-like", "randomised")
MODEL_SUFFIX = "__ISLAPlans__3d_fullres"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="train_isla_b.py run folder")
    parser.add_argument("--workdir", type=Path, required=True, help="prediction outputs (outside the repository)")
    parser.add_argument("--data", type=Path, default=shipped_demo.DEFAULT_DATA)
    parser.add_argument("--cases", type=int, default=5, help="simulated cases per domain")
    parser.add_argument("--seed", type=int, default=7919, help="seed of the simulated held-out cases")
    parser.add_argument("--train-seed", type=int, default=0, help="--seed the run was simulated with")
    parser.add_argument("--train-args", default="", help="the run's other train_isla_b.py arguments, for the card")
    parser.add_argument("--train-commit", help="the commit the run simulated its data with (default: the run's "
                        "record of it; runs before that record need it given)")
    parser.add_argument("--machine", default="2-core x86-64 CPU (AVX512-BF16), 24 GiB, no GPU")
    return parser.parse_args()


def scored(models, name: str, dwi: Path, adc: Path, truth: Path, outdir: Path, by_region: bool = False,
           adc_check: bool = False) -> dict:
    from isla_nnunet.prediction.error_regions import errors_by_region_files

    case = shipped_demo.predict_and_score(models, name, dwi, adc, truth, outdir, adc_check=adc_check)
    regions = errors_by_region_files(outdir, truth) if by_region else {}
    return {**{k: round(v, 4) for k, v in case.scores.items()}, "predict_s": case.seconds, **regions}


def medians(rows: list[dict]) -> dict:
    def median(key):
        values = [r[key] for r in rows if r[key] == r[key]]  # HD95 is NaN when a mask is empty
        return round(statistics.median(values), 4) if values else float("nan")

    return {"cases": len(rows), "median_dice": median("dice"), "median_lesion_f1": median("lesion_f1"),
            "median_avd_ml": median("avd_ml"), "median_hd95_mm": median("hd95_mm"), "per_case": rows}


def pretrained_stage(pretrained: str | None) -> dict | None:
    """The training record of the model a fine-tuning run started from, from the figures.json beside it
    (:func:`renumbered`). A fine-tuning run from a model without a figures.json cannot be carded."""
    from isla_nnunet.prediction.shipped import FIGURES_FILE

    if not pretrained:
        return None
    figures_file = Path(pretrained).parent / FIGURES_FILE
    if not figures_file.exists():
        raise SystemExit(f"the run continued {pretrained}, which has no {FIGURES_FILE} beside it to describe the "
                         "stages before it; card that model first (model_card.py --run ITS_RUN), then this run")
    return renumbered(json.loads(figures_file.read_text())["training"])


def renumbered(stage: dict) -> dict:
    """A stage record whose commands (and those of the stages before it) chain: stage n runs in ``RUN<n>`` and
    continues the model in ``RUN<n-1>``; the learning rate is filled in for records made before it was kept."""
    from isla_nnunet.prediction.model_card import training_stages
    from isla_nnunet.training.variants import TRAINERS

    before = renumbered(stage["pretrained"]) if isinstance(stage.get("pretrained"), dict) else None
    workdir = f"RUN{len(training_stages(stage))}"
    command = re.sub(r"--workdir \S+", f"--workdir {workdir}", stage["command"])
    if before:
        command = re.sub(r"--pretrained \S+", f"--pretrained {before['model_folder']}", command)
    return {**stage, "command": command, "model_folder": f"{workdir}/results/*/{stage['trainer']}{MODEL_SUFFIX}",
            "learning_rate": stage.get("learning_rate", list(TRAINERS[stage["trainer"]].learning_rate_range)),
            **({"pretrained": before} if before else {})}


def main() -> None:
    args = parse_args()
    import torch
    from train_isla_b import code_commit  # beside this script

    from isla_nnunet.prediction import model_card
    from isla_nnunet.prediction.model_card import REAL_CASE_FILES
    from isla_nnunet.prediction.models import ModelSet
    from isla_nnunet.prediction.shipped import FIGURES_FILE, SHIPPED_ROOT, pack_model, sha256
    from isla_nnunet.simulation import write_native_cases
    from isla_nnunet.simulation.domains import get_domain

    # The prediction pipeline (brain extraction, registration) moves the figures as much as the weights;
    # taken before packing, which changes the checkout.
    prediction_commit = code_commit()
    results = json.loads((args.run / "results.json").read_text())
    training = results["training"]
    # Read before packing: packing the new model into the shipped folder replaces the figures beside it.
    started_from = pretrained_stage(training.get("pretrained"))
    trained = next((args.run / "results").glob(f"*/{training['trainer']}{MODEL_SUFFIX}"))
    folder = pack_model(trained, SHIPPED_ROOT)
    checkpoint = folder / "fold_0" / "checkpoint_final.pth"
    weights = torch.load(checkpoint, map_location="cpu", weights_only=True)["network_weights"]
    print(f"packed {trained} -> {folder} ({checkpoint.stat().st_size / 1e6:.1f} MB)")

    measured = {}
    with ModelSet.load([folder], device="cpu") as models:
        for adc_check, outputs in ((False, args.workdir), (True, args.workdir / "adc_check")):
            real, simulated = {}, {}
            for case, (dwi, adc, mask) in REAL_CASE_FILES.items():
                if (args.data / dwi).exists():
                    real[case] = scored(models, case, args.data / dwi, args.data / adc, args.data / mask,
                                        outputs / "real" / case, by_region=True, adc_check=adc_check)
                    print(case, "ADC check" if adc_check else "", real[case]["dice"], real[case]["lesion_f1"])
            for domain in DOMAINS:
                scans = args.workdir / "simulated" / domain
                if not (scans / f"case_{args.cases - 1:04d}.json").exists():
                    write_native_cases(scans, args.cases, domain=domain, seed=args.seed, overwrite=True)
                rows = [{"case": f"case_{k:04d}", **scored(
                            models, f"{domain}_{k:04d}", scans / f"case_{k:04d}_dwi.nii.gz",
                            scans / f"case_{k:04d}_adc.nii.gz", scans / f"case_{k:04d}_msk.nii.gz",
                            outputs / "predicted" / domain / f"case_{k:04d}", adc_check=adc_check)}
                        for k in range(args.cases)]
                simulated[domain] = medians(rows)
                print(domain, "ADC check" if adc_check else "", simulated[domain]["median_dice"],
                      simulated[domain]["median_lesion_f1"])
            measured[adc_check] = {"real": real, "simulated": simulated}

    domains = results["data"].get("domains", ["source"])
    commit = args.train_commit or results["data"].get("code_commit")
    figures = {
        "model": {"folder": folder.name, "sha256": sha256(checkpoint),
                  "size_mb": round(checkpoint.stat().st_size / 1e6, 2),
                  "parameters": int(sum(t.numel() for t in weights.values()))},
        "training": renumbered({**{k: training[k] for k in ("trainer", "epochs", "steps_per_epoch", "batch", "steps",
                                                 "cases_seen", "distinct_training_cases", "wall_s", "cpu_s",
                                                 "validation_dice_nnunet")},
                     "domains": [{"name": d, "description": get_domain(d).description} for d in domains],
                     "seed": args.train_seed,
                     "command": f"python scripts/train_isla_b.py --workdir RUN --train-cases "
                                f"{training['distinct_training_cases']} --epochs {training['epochs']} "
                                f"--domains {','.join(domains)} {args.train_args}".strip()
                                + (f" --pretrained {started_from['model_folder']}" if started_from else ""),
                     **({"code_commit": commit} if commit else {}),
                     **({"pretrained": started_from} if started_from else {})}),
        "test": {k: results["test"][k] for k in ("cases", "median_dice", "median_lesion_f1")} if "test" in results
        else {},
        "machine": args.machine, "date": datetime.date.today().isoformat(),
        **({"prediction_commit": prediction_commit} if prediction_commit else {}),
        "command": "python scripts/model_card.py --run RUN --workdir CARD "
                   f"--cases {args.cases} --seed {args.seed}",
        "software": {"python": platform.python_version(), "torch": torch.__version__},
        **measured[False], "adc_check": measured[True], "simulated_seed": args.seed,
    }
    temporary = SHIPPED_ROOT / f"{FIGURES_FILE}.tmp"
    temporary.write_text(json.dumps(figures, indent=1) + "\n")
    os.replace(temporary, SHIPPED_ROOT / FIGURES_FILE)
    card = REPO / "docs" / "model_card.md"
    card.write_text(model_card.render(figures))
    print(f"wrote {SHIPPED_ROOT / FIGURES_FILE} and {card}")


if __name__ == "__main__":
    sys.exit(main())
