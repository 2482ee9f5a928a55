"""``isla demo``: the whole workflow on simulated cases, through nnU-Net's own commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from isla_nnunet import demo

HELP = "Simulate cases, plan, train two short ISLA models, predict, ensemble and evaluate (minutes on a CPU)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", type=Path, default=demo.default_workdir(),
                        help="working folder; an interrupted demo resumes there (default: ./isla_demo)")
    parser.add_argument("--epochs", type=int, default=demo.DemoSettings.epochs,
                        choices=demo.DEMO_EPOCH_CHOICES,
                        help="training epochs per model (default %(default)s)")
    parser.add_argument("--train-cases", type=int, default=demo.DemoSettings.n_train)
    parser.add_argument("--test-cases", type=int, default=demo.DemoSettings.n_test)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="training/prediction device")
    parser.add_argument("--seed", type=int, default=0, help="simulation seed")


def run(args: argparse.Namespace) -> int:
    settings = demo.DemoSettings(workdir=args.workdir, n_train=args.train_cases, n_test=args.test_cases,
                                 seed=args.seed, epochs=args.epochs, device=args.device)
    result = demo.run_demo(settings)
    print(result.summary)
    print(f"\nensemble predictions: {result.ensemble_folder}\nper-case metrics: {result.metrics_csv}")
    print(f"note: each model trained {args.epochs} epoch(s) on {args.train_cases} simulated cases on purpose, to show "
          "the workflow in minutes; ISLA trains 300 epochs, so these scores say nothing about ISLA's accuracy")
    return 0
