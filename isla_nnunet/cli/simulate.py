"""``isla simulate``: synthetic acute-stroke DWI/ADC cases, native-space or as an nnU-Net raw dataset.

Examples::

    isla simulate cases/ -n 5 --domain soop-like                 # native NIfTI + JSON sidecars
    isla simulate $nnUNet_raw -n 12 --test 4 --nnunet-id 501 --name SimStroke \\
        --unlabeled 12 --unlabeled-domain target                  # nnU-Net raw dataset
    isla simulate --list-domains
"""

from __future__ import annotations

import argparse

from isla_nnunet import simulation
from isla_nnunet.errors import ISLAError

HELP = "Simulate acute-stroke DWI/ADC cases (native NIfTI, or an nnU-Net raw dataset on the reference grid)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "output", nargs="?", help="folder for native cases, or the nnUNet_raw folder with --nnunet-id"
    )
    parser.add_argument("-n", "--cases", type=int, default=1, help="number of (training) cases (default 1)")
    parser.add_argument(
        "--domain",
        default=None,
        help="acquisition domain (default: isles22-like for native cases, source for nnU-Net)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed; equal seeds give identical output (default 0)"
    )
    parser.add_argument("--no-brain-mask", action="store_true", help="native cases: skip the brain-mask file")
    nnunet = parser.add_argument_group("nnU-Net raw dataset")
    nnunet.add_argument(
        "--nnunet-id", type=int, default=None, help="write Dataset<ID>_<NAME> on the reference grid"
    )
    nnunet.add_argument("--name", default="SimStroke", help="dataset name (default SimStroke)")
    nnunet.add_argument("--test", type=int, default=0, help="test cases (imagesTs/labelsTs, default 0)")
    nnunet.add_argument(
        "--unlabeled", type=int, default=0, help="unlabeled images in imagesUnlabeledTr (default 0)"
    )
    nnunet.add_argument(
        "--unlabeled-domain", default="target", help="domain of the unlabeled images (default target)"
    )
    nnunet.add_argument("--test-domain", default=None, help="domain of the test cases (default: --domain)")
    nnunet.add_argument("-np", "--num-processes", type=int, default=1,
                        help="cases simulated in parallel (default 1; the output does not depend on it)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--list-domains", action="store_true", help="list the domain presets and exit")


def run(args: argparse.Namespace) -> int:
    if args.list_domains:
        print(simulation.describe_domains())
        return 0
    if args.output is None:
        raise ISLAError("no output folder given; pass one (or --list-domains)")
    if args.nnunet_id is not None:
        folder = simulation.write_nnunet_dataset(
            args.output,
            args.nnunet_id,
            args.name,
            args.cases,
            args.test,
            args.domain or "source",
            args.seed,
            n_unlabeled=args.unlabeled,
            unlabeled_domain=args.unlabeled_domain,
            test_domain=args.test_domain,
            overwrite=args.overwrite,
            progress=True,
            workers=args.num_processes,
        )
        print(folder)
    else:
        written = simulation.write_native_cases(
            args.output,
            args.cases,
            args.domain or "isles22-like",
            args.seed,
            brain_mask=not args.no_brain_mask,
            overwrite=args.overwrite,
            progress=True,
        )
        print(f"{len(written)} case(s) in {args.output}")
    return 0
