"""Compare models and ensembles through ``isla predict``'s pipeline on the same held-out cases.

Each ``--arm NAME=MODEL[+MODEL...]`` is one model or an ensemble (``--arm NAME=A+B+C:vote`` for the
majority vote, otherwise the mean probability); ``shipped`` names the shipped model. Every arm predicts

- the real cases of ``--data`` (ISLES'22 0009, SOOP sub-3) and
- ``--cases`` simulated cases of each ``--domains`` domain on its native grid (seed ``--seed``, a
  stream no training run here uses; the same cases for every arm),

from native DWI/ADC to the native-space mask exactly as ``isla predict`` does, and is scored with
``isla evaluate``'s metrics (Dice, lesion-wise F1, absolute volume difference, HD95). Per-case figures,
medians and seconds per case go to ``WORKDIR/comparison.json``, a markdown table to stdout. Finished
cases whose report names the same weights are reused, so an interrupted comparison continues.

Usage::

    python scripts/compare_models.py --workdir ~/isla_runs/compare \\
        --arm isla_b=shipped --arm clerigues=RUN/results/.../CleriguesTrainer_CPU__CleriguesPlans__3d_fullres \\
        --arm vote=shipped+FT_MODEL+CLERIGUES_MODEL:vote --patch-step 2 8 8
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np

from isla_nnunet import shipped_demo

DOMAINS = ("source", "target", "isles22-like", "soop-like", "randomised")
METRICS = ("dice", "lesion_f1", "avd_ml", "hd95_mm")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True, help="outputs (outside the repository)")
    parser.add_argument("--arm", action="append", required=True, metavar="NAME=MODEL[+MODEL...][:vote]")
    parser.add_argument("--data", type=Path, default=shipped_demo.DEFAULT_DATA)
    parser.add_argument("--cases", type=int, default=5, help="simulated cases per domain")
    parser.add_argument("--domains", default=",".join(DOMAINS))
    parser.add_argument("--seed", type=int, default=7919, help="seed of the simulated held-out cases")
    parser.add_argument("--patch-step", type=int, nargs=3, default=(1, 4, 4), metavar=("Z", "Y", "X"),
                        help="dense-inference step of patch models")
    parser.add_argument("--lesion-cases-only", action="store_true",
                        help="leave out simulated cases without a lesion (e.g. when comparing patch steps: an "
                             "empty truth scores Dice 1 at any step and the case costs the most time)")
    parser.add_argument("--adc-check", action="store_true",
                        help="every arm predicts with isla predict --adc-check; name the arms apart")
    parser.add_argument("--tta", action="store_true",
                        help="every arm predicts with test-time mirroring (isla predict --tta); name the arms apart")
    return parser.parse_args()


def parse_arm(text: str) -> tuple[str, list[str], str]:
    """``NAME=A+B:vote`` -> (name, [A, B], "vote"); ``shipped`` is the shipped model's folder."""
    from isla_nnunet.prediction.shipped import shipped_model_folder

    name, sep, rest = text.partition("=")
    if not sep or not name or not rest:
        raise SystemExit(f"--arm {text!r}: write NAME=MODEL[+MODEL...][:vote]")
    models, _, method = rest.partition(":")
    method = method or "mean"
    if method not in ("mean", "vote"):
        raise SystemExit(f"--arm {text!r}: the ensemble rule is mean or vote, not {method!r}")
    folders = [os.fspath(shipped_model_folder()) if m == "shipped" else m for m in models.split("+")]
    return name, folders, method


def cases(args: argparse.Namespace) -> list[tuple[str, Path, Path, Path]]:
    """(name, dwi, adc, truth) of every held-out case; simulated ones are written once."""
    from isla_nnunet.prediction.model_card import REAL_CASE_FILES
    from isla_nnunet.simulation import write_native_cases

    found = [(case, args.data / dwi, args.data / adc, args.data / mask)
             for case, (dwi, adc, mask) in REAL_CASE_FILES.items() if (args.data / dwi).exists()]
    for domain in args.domains.split(","):
        scans = args.workdir / "simulated" / domain
        if not (scans / f"case_{args.cases - 1:04d}.json").exists():
            write_native_cases(scans, args.cases, domain=domain, seed=args.seed, overwrite=True)
        simulated = [(f"{domain}/case_{k:04d}", *files(scans, k)) for k in range(args.cases)]
        if args.lesion_cases_only:
            simulated = [case for case in simulated if np.asarray(nib.load(case[3]).dataobj).any()]
        found += simulated
    return found


def files(scans: Path, k: int) -> tuple[Path, Path, Path]:
    """DWI, ADC and lesion mask of simulated case ``k``."""
    return tuple(scans / f"case_{k:04d}_{part}.nii.gz" for part in ("dwi", "adc", "msk"))


def summary(rows: list[dict]) -> dict:
    """Medians per metric (``isla evaluate``'s statistics: HD95 is NaN where a mask is empty, left out)."""
    from isla_nnunet.evaluation.summary import describe

    return {"cases": len(rows), **{f"median_{key}": round(describe(r[key] for r in rows).median, 4)
                                   for key in (*METRICS, "seconds")}}


def main() -> int:
    args = parse_args()
    from isla_nnunet.conversion import CaseSpec
    from isla_nnunet.evaluation import evaluate_files
    from isla_nnunet.io.atomic import write_text_atomic
    from isla_nnunet.prediction.models import ModelSet
    from isla_nnunet.prediction.pipeline import PredictionSettings, predict_case
    from isla_nnunet.prediction.report import predicted_by

    arms = [parse_arm(a) for a in args.arm]
    held_out = cases(args)
    results_file = args.workdir / "comparison.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    for name, folders, method in arms:
        rows = []
        with ModelSet.load(folders, device="cpu", tta=args.tta, patch_step=args.patch_step) as models:
            for case, dwi, adc, truth in held_out:
                out = args.workdir / "predicted" / name / case
                seconds = None
                if not predicted_by(out / "report.json", models, tta=args.tta, adc_check=args.adc_check):
                    start = time.perf_counter()
                    settings = PredictionSettings(ensemble=method, overwrite=True, adc_check=args.adc_check)
                    predict_case(CaseSpec(case.replace("/", "_"), os.fspath(dwi), adc=os.fspath(adc), role="test"),
                                 models, out, settings)
                    seconds = time.perf_counter() - start
                report = json.loads((out / "report.json").read_text())
                scores = evaluate_files(out / "lesion_mask.nii.gz", truth)
                rows.append({"case": case, **{m: round(float(scores[m]), 4) for m in METRICS},
                             "seconds": round(seconds or report["timings_s"]["total"], 2)})
                print(f"{name} {case}: Dice {rows[-1]['dice']:.3f} lesion F1 {rows[-1]['lesion_f1']:.3f}", flush=True)
        groups = {"real": [r for r in rows if "/" not in r["case"]]}
        for domain in args.domains.split(","):
            groups[domain] = [r for r in rows if r["case"].startswith(f"{domain}/")]
        results[name] = {"models": folders, "ensemble": method, "tta": args.tta, "adc_check": args.adc_check,
                         "patch_step_zyx": list(args.patch_step), "per_case": rows,
                         "summary": {g: summary(r) for g, r in groups.items() if r}}
        write_text_atomic(results_file, json.dumps(results, indent=1) + "\n")

    real_cases = [c for c, *_ in held_out if "/" not in c]
    domains = args.domains.split(",")
    print("\n| arm | " + " | ".join([*real_cases, *(f"{d} median" for d in domains)]) + " |")
    print("|---" * (1 + len(real_cases) + len(domains)) + "|")
    for name, *_ in arms:
        entry = results[name]
        real = [f"{r['dice']:.3f} / {r['lesion_f1']:.3f} / {r['hd95_mm']:.1f}" for r in entry["per_case"]
                if "/" not in r["case"]]
        simulated = [f"{entry['summary'][d]['median_dice']:.3f} / {entry['summary'][d]['median_lesion_f1']:.3f} / "
                     f"{entry['summary'][d]['median_hd95_mm']:.1f}" for d in domains]
        print(f"| {name} | " + " | ".join(real + simulated) + " |")
    print("(Dice / lesion F1 / HD95 mm)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
