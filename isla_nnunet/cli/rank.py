"""``isla rank``: ISLES'22 case-level ranking of several runs, printed like ISLA's Tables 3-5."""

from __future__ import annotations

import argparse
from pathlib import Path

from isla_nnunet.evaluation import RANKED_METRICS, rank_runs

HELP = "Rank runs (metrics CSVs or prediction folders + --gt) with the ISLES'22 case-level ranking."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN",
                        help="a metrics CSV from 'isla evaluate -o', or a prediction folder (needs --gt)")
    parser.add_argument("--gt", type=Path, help="ground truth for runs given as prediction folders")
    parser.add_argument("--gt-pattern", default="*", help="file-name glob inside --gt (default: *)")
    parser.add_argument("--names", nargs="+", help="display names, one per run (default: file/folder names)")
    parser.add_argument("--metrics", nargs="+", default=list(RANKED_METRICS),
                        help=f"metrics to rank on (default: {' '.join(RANKED_METRICS)})")
    parser.add_argument("-o", "--output", type=Path, help="write the ranking table as CSV")
    parser.add_argument("-j", "--workers", type=int, help="worker processes (default: all CPUs)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    ranking = rank_runs(args.runs, gt=args.gt, names=args.names, output=args.output, metrics=args.metrics,
                        workers=args.workers, progress=not args.no_progress, gt_pattern=args.gt_pattern)
    print(ranking.format())
    if args.output is not None:
        print(f"wrote {args.output}")
    return 0
