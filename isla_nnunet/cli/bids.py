"""``isla bids``: a BIDS App (participant and group levels) writing BIDS derivatives."""

from __future__ import annotations

import argparse

from isla_nnunet.cli import EXIT_FLAGGED
from isla_nnunet.cli.predict import add_prediction_options, model_options, prediction_settings
from isla_nnunet.errors import ISLAError

HELP = ("BIDS App: predict every DWI/ADC of the chosen participants into BIDS derivatives (participant), "
        "or tabulate them (group). One participant per job scales out on a cluster (docs/bids.md).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bids_dir", help="BIDS dataset root (ISLES'22 and SOOP layouts, or any with _dwi/_adc)")
    parser.add_argument("output_dir", help="derivatives folder, e.g. BIDS_DIR/derivatives/isla")
    parser.add_argument("analysis_level", choices=["participant", "group"])
    parser.add_argument("--participant-label", nargs="+", metavar="LABEL",
                        help="participants to process (with or without sub-); default: all")
    parser.add_argument("--participant-index", type=int, metavar="I",
                        help="process only the I-th participant (0-based, sorted, after --participant-label): "
                             "pass $SLURM_ARRAY_TASK_ID in a job array")
    add_prediction_options(parser)


def run(args: argparse.Namespace) -> int:
    from isla_nnunet.conversion.layouts.bids_entities import find_acquisitions, participants_of
    from isla_nnunet.prediction.bids_app import group_table, run_participants
    from isla_nnunet.prediction.run import load_models, model_sources

    if args.analysis_level == "group":
        path, rows = group_table(args.output_dir)
        print(f"{rows} acquisition(s) -> {path}")
        return 0
    acquisitions = find_acquisitions(args.bids_dir, args.participant_label)
    participants = participants_of(acquisitions)
    if args.participant_index is not None:
        if args.participant_index < 0:
            raise ISLAError(f"--participant-index must be >= 0, got {args.participant_index}")
        if args.participant_index >= len(participants):
            print(f"--participant-index {args.participant_index}: only {len(participants)} participant(s), "
                  "nothing to do")
            return 0
        chosen = participants[args.participant_index]
        acquisitions = [a for a in acquisitions if a.subject == chosen]
    settings = prediction_settings(args)
    options = model_options(args)
    sources = model_sources(options, print)
    print(f"{len(acquisitions)} acquisition(s) of {len({a.subject for a in acquisitions})} participant(s)")
    with load_models(sources, options) as loaded:
        summary = run_participants(args.bids_dir, args.output_dir, acquisitions, loaded, settings, echo=print)
    print("\n".join(summary.lines()))
    return 1 if summary.failed else EXIT_FLAGGED if summary.registration_failed else 0
