"""``isla check``: is everything in place for ``nnUNetv2_train D 3d_fullres F -p ISLAPlans -tr TRAINER``?"""

from __future__ import annotations

import argparse

from isla_nnunet.nnunet import preflight
from isla_nnunet.nnunet.isla_plans import CONFIGURATION, PLANS_NAME

HELP = "Check the environment, trainer name, plans and preprocessed data before nnUNetv2_train."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-d", "--dataset", type=int, help="nnU-Net dataset id")
    parser.add_argument("-tr", "--trainer", help="trainer name, e.g. ISLATrainer_UFL_Std_DS_NoAtt")
    parser.add_argument("-p", "--plans", default=PLANS_NAME, help="plans name (default %(default)s)")
    parser.add_argument("-c", "--configuration", default=CONFIGURATION, help="configuration (default %(default)s)")
    parser.add_argument("--list-trainers", action="store_true", help="print every shipped trainer name and exit")


def run(args: argparse.Namespace) -> int:
    if args.list_trainers:
        print("\n".join(preflight.shipped_trainers()))
        return 0
    if args.dataset is None or args.trainer is None:
        raise preflight.ISLAError("give -d DATASET and -tr TRAINER (or --list-trainers)")
    for line in preflight.check_training_setup(args.dataset, args.trainer, args.plans, args.configuration):
        print(f"ok  {line}")
    print(f"ready: nnUNetv2_train {args.dataset} {args.configuration} FOLD -p {args.plans} -tr {args.trainer}")
    return 0
