"""``isla convert``: a dataset (ISLES'22, SOOP, CSV) -> nnU-Net raw dataset on the ISLA reference grid."""

from __future__ import annotations

import argparse

from isla_nnunet.cli import EXIT_FLAGGED
from isla_nnunet.conversion import LAYOUTS, convert_dataset, discover_cases
from isla_nnunet.conversion.dataset import GRIDS
from isla_nnunet.conversion.qc import NCC_THRESHOLD
from isla_nnunet.preprocessing import METHODS

HELP = ("Convert a dataset (ISLES'22, SOOP, CSV) into an nnU-Net raw dataset on the ISLA reference grid "
        "(or, with --grid native, on each case's own DWI grid). "
        "Exit status: 0 done, 1 a case failed, 2 refused, 3 converted but a case's registration QC or "
        "lesion mask is flagged.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="dataset root folder (ISLES'22 or SOOP BIDS layout) or CSV file")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        help="output dataset folder, named DatasetNNN_Name (normally inside $nnUNet_raw)",
    )
    parser.add_argument(
        "--layout", default="auto", choices=["auto", *LAYOUTS], help="input layout (default: auto)"
    )
    parser.add_argument(
        "--unlabeled",
        action="store_true",
        help="put every case in imagesUnlabeledTr (target-domain images, masks ignored)",
    )
    parser.add_argument("--prefix", default="", help="text prepended to every case id")
    parser.add_argument(
        "--brain",
        default="auto",
        metavar="METHOD_OR_MASK",
        help=f"brain extraction: {', '.join(METHODS)}, or a mask file (default: auto)",
    )
    parser.add_argument("-np", "--num-processes", type=int, default=1, help="cases converted in parallel")
    parser.add_argument("--overwrite", action="store_true", help="redo cases that are already converted")
    parser.add_argument(
        "--qc-threshold",
        type=float,
        default=NCC_THRESHOLD,
        help=f"registration NCC below which a case is flagged (default {NCC_THRESHOLD})",
    )
    parser.add_argument(
        "--binarize-masks",
        action="store_true",
        help="count every lesion-mask value > 0 as lesion (default: masks must hold only 0 and 1)",
    )
    parser.add_argument(
        "--grid",
        choices=GRIDS,
        default="reference",
        help="reference: register every case to ISLA's reference grid (default); native: keep each case on "
        "its own DWI grid, brain-masked (e.g. ISLES'22 at 2 mm, for isla plan --planner clerigues)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    specs = discover_cases(args.source, layout=args.layout, unlabeled=args.unlabeled, prefix=args.prefix)
    summary = convert_dataset(
        specs,
        args.output,
        num_processes=args.num_processes,
        brain_method=args.brain,
        overwrite=args.overwrite,
        qc_threshold=args.qc_threshold,
        progress=not args.no_progress,
        binarize_masks=args.binarize_masks,
        grid=args.grid,
    )
    print("\n".join(summary.lines()))
    return 1 if summary.failed else EXIT_FLAGGED if summary.flagged or summary.mask_flagged else 0
