"""``isla add-symmetric-channels``: Clèrigues et al.'s mirrored modalities as extra nnU-Net channels.

Every case ``CASE_0000 .. CASE_{n-1}`` of an nnU-Net images folder gains ``CASE_{n} .. CASE_{2n-1}``,
each modality mirrored left-right and registered back onto the DWI's anatomy
(:mod:`isla_nnunet.preprocessing.symmetry`); a ``dataset.json`` beside the folder gets the channel names.
Run it on imagesTr before planning and on every folder given to ``nnUNetv2_predict``::

    isla add-symmetric-channels $nnUNet_raw/Dataset005_X/imagesTr $nnUNet_raw/Dataset005_X/imagesTs
    isla plan --planner clerigues -d 5
"""

from __future__ import annotations

import argparse
from pathlib import Path

from isla_nnunet.preprocessing.symmetry import add_symmetric_channels

HELP = "Append each modality's registered mid-sagittal mirror as extra channels (Clèrigues et al. 2019)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folders", nargs="+", type=Path, metavar="FOLDER", help="nnU-Net images folder(s)")
    parser.add_argument("--channels", type=int, default=None,
                        help="original channels per case (default: from dataset.json, else the files found)")


def run(args: argparse.Namespace) -> int:
    for folder in args.folders:
        done = add_symmetric_channels(folder, args.channels)
        print(f"{folder}: mirrored channels written for {len(done)} case(s)")
    return 0
