"""``isla select-ensemble``: choose ISLA-ENS's size and members from validation probabilities (§3.3.2)."""

from __future__ import annotations

import argparse
from pathlib import Path

from isla_nnunet.evaluation import RANKED_METRICS, select_ensemble

HELP = "Rank base models on validation probabilities, rank Ensemble 1..N of the best, pick the best ensemble."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("predictions", nargs="+", type=Path, metavar="PRED_FOLDER",
                        help="one folder of validation probabilities per base model (nnU-Net .npz or images)")
    parser.add_argument("--gt", required=True, type=Path, help="ground-truth mask folder")
    parser.add_argument("--gt-pattern", default="*", help="file-name glob inside --gt (default: *)")
    parser.add_argument("--models", nargs="+", type=Path, metavar="MODEL_FOLDER",
                        help="model folder of each prediction folder, same order "
                             "(default: the enclosing folder holding plans.json)")
    parser.add_argument("--metrics", nargs="+", default=list(RANKED_METRICS),
                        help=f"metrics to rank on (default: {' '.join(RANKED_METRICS)})")
    parser.add_argument("-o", "--output", type=Path, default=Path("ensemble_selection.json"),
                        help="JSON with the chosen members and both rankings "
                             "(default: ensemble_selection.json)")
    parser.add_argument("-j", "--workers", type=int, help="worker processes (default: all CPUs)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    selection = select_ensemble(args.predictions, args.gt, model_folders=args.models, output=args.output,
                                metrics=args.metrics, workers=args.workers, progress=not args.no_progress,
                                gt_pattern=args.gt_pattern)
    print(selection.format())
    print(f"wrote {args.output}")
    return 0
