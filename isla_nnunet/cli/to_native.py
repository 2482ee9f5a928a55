"""``isla to-native``: map a reference-space probability map or mask back onto the native DWI grid."""

from __future__ import annotations

import argparse

from isla_nnunet.preprocessing.mapping import map_file_to_native

HELP = "Map a reference-space probability map or mask back to the native DWI grid with a saved transform."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="image on the reference grid (probability map or mask)")
    parser.add_argument(
        "-t", "--transform", required=True, help="the case's transform JSON (transforms/CASE.json)"
    )
    parser.add_argument("-o", "--output", required=True, help="output image on the native DWI grid")
    parser.add_argument(
        "--kind",
        choices=["mask", "probability"],
        default="mask",
        help="mask: linear interpolation then > 0.5 (uint8); probability: float32 (default: mask)",
    )
    parser.add_argument(
        "--keep-small-lesions", action="store_true",
        help="masks: re-add one voxel for each lesion lost in resampling (off: threshold only, as ISLA)",
    )


def run(args: argparse.Namespace) -> int:
    path = map_file_to_native(args.input, args.transform, args.output, kind=args.kind,
                              keep_small_lesions=args.keep_small_lesions)
    print(f"wrote {path}")
    return 0
