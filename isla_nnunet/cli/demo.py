"""``isla demo``: the shipped model on a simulated and a real scan; ``--train`` walks through training."""

from __future__ import annotations

import argparse
from pathlib import Path

from isla_nnunet import demo, shipped_demo

HELP = ("Segment a simulated native scan (and SOOP sub-3 when --data has it) with the shipped model and "
        "score the masks; --train: simulate, plan, train two short ISLA models, ensemble and evaluate.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", type=Path, default=demo.default_workdir(),
                        help="working folder; an interrupted demo resumes there (default: ./isla_demo)")
    parser.add_argument("--data", type=Path, default=shipped_demo.DEFAULT_DATA,
                        help="folder with the real cases (default: ../shared/data beside the checkout)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="training/prediction device")
    parser.add_argument("--seed", type=int, default=0, help="simulation seed")
    walk = parser.add_argument_group("training walkthrough")
    walk.add_argument("--train", action="store_true",
                      help="instead: simulate, plan, train two short models, ensemble, evaluate (minutes)")
    walk.add_argument("--epochs", type=int, default=demo.DemoSettings.epochs, choices=demo.DEMO_EPOCH_CHOICES,
                      help="training epochs per model (default %(default)s)")
    walk.add_argument("--train-cases", type=int, default=demo.DemoSettings.n_train)
    walk.add_argument("--test-cases", type=int, default=demo.DemoSettings.n_test)


def run(args: argparse.Namespace) -> int:
    if not args.train:
        for case in shipped_demo.run_shipped_demo(args.workdir, args.data, seed=args.seed, device=args.device):
            print("\n".join(case.lines()))
        return 0
    settings = demo.DemoSettings(workdir=args.workdir, n_train=args.train_cases, n_test=args.test_cases,
                                 seed=args.seed, epochs=args.epochs, device=args.device)
    result = demo.run_demo(settings)
    print(result.summary)
    print(f"\nensemble predictions: {result.ensemble_folder}\nper-case metrics: {result.metrics_csv}")
    print(f"note: each model trained {args.epochs} epoch(s) on {args.train_cases} simulated cases on purpose, to show "
          "the workflow in minutes; ISLA trains 300 epochs, so these scores say nothing about ISLA's accuracy")
    return 0
