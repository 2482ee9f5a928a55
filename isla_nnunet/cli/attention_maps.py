"""``isla attention-maps``: a trained model's attention coefficients for one case as NIfTI (ISLA App. E)."""

from __future__ import annotations

import argparse
from pathlib import Path

from isla_nnunet.attention_maps import CHECKPOINT, export_attention_maps

HELP = "Write the attention coefficients of a trained ISLA model for one case as NIfTI on the image grid."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-m", "--model", required=True, type=Path,
                        help="trained model folder (nnUNet_results/DatasetXXX/<trainer>__<plans>__<config>)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("-i", "--images", nargs="+", type=Path,
                        help="the case's images on the reference grid, one per channel in dataset.json order")
    source.add_argument("--preprocessed", type=Path,
                        help="or a preprocessed case: nnUNet_preprocessed/<dataset>/<identifier>/<case>.b2nd")
    parser.add_argument("-o", "--output", required=True, type=Path, help="output folder")
    parser.add_argument("-f", "--fold", help="fold to load (default: the first one found; 'all' allowed)")
    parser.add_argument("--checkpoint", default=CHECKPOINT,
                        help=f"checkpoint file name (default: {CHECKPOINT})")
    parser.add_argument("--case-id", help="file-name prefix of the outputs (default: from the input name)")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")


def run(args: argparse.Namespace) -> int:
    paths = export_attention_maps(args.model, args.output, images=args.images, preprocessed=args.preprocessed,
                                  fold=args.fold, checkpoint_name=args.checkpoint, case_id=args.case_id,
                                  device=args.device)
    print("\n".join(f"wrote {path}" for path in paths))
    return 0
