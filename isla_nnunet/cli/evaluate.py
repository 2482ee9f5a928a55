"""``isla evaluate``: ISLES'22 metrics and HD95 per case, with median/IQR overall and by lesion size."""

from __future__ import annotations

import argparse
from pathlib import Path

from isla_nnunet.evaluation import evaluate
from isla_nnunet.evaluation.metrics import HD95_VARIANTS

HELP = "Evaluate lesion masks against ground truth (ISLES'22 metrics, HD95; median/IQR by lesion size)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pred", required=True, type=Path, help="predicted mask file or folder")
    parser.add_argument("--gt", required=True, type=Path, help="ground-truth mask file or folder")
    parser.add_argument("-o", "--output", type=Path,
                        help="per-case CSV to write; the summary goes to <stem>_summary.csv beside it")
    parser.add_argument("--pred-pattern", default="*", help="file-name glob inside --pred (default: *)")
    parser.add_argument("--gt-pattern", default="*",
                        help="file-name glob inside --gt, e.g. '*_msk.nii.gz' for a BIDS tree (default: *)")
    parser.add_argument("--hd95", choices=HD95_VARIANTS, default="voxels",
                        help="HD95 over every voxel of each mask as ISLA defines it (voxels, default) or over "
                             "surface voxels as most other tools (surface)")
    parser.add_argument("-j", "--workers", type=int, help="worker processes (default: all CPUs)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    report = evaluate(args.pred, args.gt, output=args.output, workers=args.workers,
                      progress=not args.no_progress, pred_pattern=args.pred_pattern,
                      gt_pattern=args.gt_pattern, hd95_variant=args.hd95)
    print(report.format())
    return 0
