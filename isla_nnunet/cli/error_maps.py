"""``isla error-maps``: voxel-wise FP/FN proportion and mean-distance maps in a common space (§3.3.3.3)."""

from __future__ import annotations

import argparse
from pathlib import Path

from isla_nnunet.evaluation import make_error_maps

HELP = "Voxel-wise FP/FN proportion and mean-distance maps (NIfTI + PNG) for masks in the reference space."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pred", required=True, type=Path, help="predicted masks (folder), reference space")
    parser.add_argument("--gt", required=True, type=Path, help="ground-truth masks (folder), same space")
    parser.add_argument("-o", "--output", required=True, type=Path, help="output folder")
    parser.add_argument("--fwhm", type=float, default=4.0,
                        help="Gaussian smoothing FWHM in mm (default: 4, as ISLA; 0: none)")
    parser.add_argument("--background", type=Path, help="image on the same grid shown under the PNG montage")
    parser.add_argument("--pred-pattern", default="*", help="file-name glob inside --pred (default: *)")
    parser.add_argument("--gt-pattern", default="*", help="file-name glob inside --gt (default: *)")
    parser.add_argument("-j", "--workers", type=int, help="worker processes (default: all CPUs)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    maps, paths = make_error_maps(args.pred, args.gt, args.output, fwhm_mm=args.fwhm,
                                  background=args.background, workers=args.workers,
                                  progress=not args.no_progress, pred_pattern=args.pred_pattern,
                                  gt_pattern=args.gt_pattern)
    print(maps.format())
    print("\n".join(f"wrote {path}" for path in paths))
    return 0
