"""``isla predict``: native DWI/ADC -> native-space lesion mask, volumes, report and QC picture."""

from __future__ import annotations

import argparse

from isla_nnunet.cli import EXIT_FLAGGED
from isla_nnunet.conversion import LAYOUTS
from isla_nnunet.errors import ISLAError
from isla_nnunet.precision import PRECISION_SETTINGS
from isla_nnunet.prediction.dense_patches import PAPER_STEP_ZYX
from isla_nnunet.prediction.model_checks import DEFAULT_CHECKPOINT
from isla_nnunet.prediction.models import DEVICES

HELP = ("Predict lesion masks from native DWI/ADC with one nnU-Net model or an ensemble (ISLA-ENS, or "
        "--vote), back in native space, with volumes, a report and a QC picture. Exit status: 0 done, "
        "1 a batch case failed, 2 refused (one-line error), 3 a mask written whose registration QC failed.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    case = parser.add_argument_group("one case")
    case.add_argument("--dwi", help="trace DWI (b1000): NIfTI, .mha/.mhd, .nrrd or a DICOM series folder")
    case.add_argument("--adc", help="ADC map (any usual unit); optional with --b0 or b0 volumes in the DWI")
    case.add_argument("--b0", help="b=0 image to compute the ADC from when no ADC is given")
    case.add_argument("--bvalues", type=float, nargs="+", metavar="B",
                      help="b-value of each volume of a multi-volume DWI without .bval/JSON sidecar")
    case.add_argument("--case-id", help="case name in the report (default: DWI file name)")
    batch = parser.add_argument_group("many cases")
    batch.add_argument("-i", "--input", help="folder (ISLES'22/SOOP BIDS, or CASE_dwi + CASE_adc images) or "
                       "CSV with columns case_id,dwi[,adc][,b0][,brain_mask]; outputs go to OUTPUT/CASE_ID/")
    batch.add_argument("--layout", default="auto", choices=["auto", *LAYOUTS],
                       help="layout of --input (default: auto)")
    parser.add_argument("-o", "--output", required=True,
                        help="output folder (one case) or root folder (batch)")
    parser.add_argument("--save-reference", action="store_true",
                        help="also write the reference-grid DWI, ADC, probability and mask")
    parser.add_argument("--no-progress", action="store_true", help="hide the batch progress bar")
    add_prediction_options(parser)


def add_prediction_options(parser: argparse.ArgumentParser) -> None:
    """Models, device and output options shared by ``isla predict`` and ``isla bids``."""
    parser.add_argument("-m", "--model", action="append", metavar="MODEL",
                        help="nnU-Net trained-model folder (Trainer__Plans__configuration) or exported zip; "
                             "repeat for an ensemble (default: the shipped ISLA-B model, trained on simulated "
                             "cases only; see docs/model_card.md)")
    parser.add_argument("--vote", action="store_true",
                        help="ensemble by majority vote of the member masks (DeepISLES) instead of the mean "
                             "probability (ISLA-ENS)")
    parser.add_argument("--device", default="auto", choices=DEVICES,
                        help="where the networks run (default: auto = CUDA when available)")
    parser.add_argument("--tta", action="store_true", help="test-time mirroring (off by default, as in ISLA)")
    parser.add_argument("--precision", choices=PRECISION_SETTINGS, default=None,
                        help="CPU arithmetic: auto = bf16 on processors with native bf16, else float32 "
                             "(default: $ISLA_CPU_PRECISION or auto); CUDA uses nnU-Net's float16 autocast")
    parser.add_argument("--patch-step", nargs=3, type=int, metavar=("Z", "Y", "X"), default=list(PAPER_STEP_ZYX),
                        help="step in voxels between the patches of a patch model's dense inference (Clèrigues "
                             "et al.; default the paper's 1 4 4; coarser is faster, see docs/clerigues.md)")
    parser.add_argument("--folds", nargs="+", metavar="F",
                        help="folds of each model to use (default: all found)")
    parser.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT,
                        help=f"checkpoint file in each fold folder (default {DEFAULT_CHECKPOINT})")
    parser.add_argument("--brain", default="auto", metavar="METHOD_OR_MASK",
                        help="brain extraction: auto, stripped, template, synthstrip, hd-bet, or a mask file")
    parser.add_argument("--viewer", action="store_true",
                        help="also write viewer.html, the case in one self-contained browser page (and, for a "
                             "batch, index.html listing the cases)")
    parser.add_argument("--save-mni", action="store_true",
                        help="also write the mask and probability on the MNI152 1 mm grid (rigid alignment)")
    parser.add_argument("--territory-atlas", action="append", metavar="ATLAS",
                        help="label image in MNI152 space (e.g. the Johns Hopkins arterial atlas, not shipped): "
                             "lesion volume per region in report.json and lesions.csv; repeat for several "
                             "atlases, each with its --territory-labels")
    parser.add_argument("--territory-labels", action="append", metavar="LABELS",
                        help="the atlas's label table ('value name' rows, a value/name table, or the Johns "
                             "Hopkins table with its levels); one per --territory-atlas, in the same order")
    parser.add_argument("--keep-small-lesions", action="store_true",
                        help="re-add one native voxel for each predicted lesion lost when mapping back "
                             "(off: ISLA's p > 0.5 on the mapped probability)")
    parser.add_argument("--adc-check", action="store_true",
                        help="remove predicted lesions whose median ADC is not below normal parenchyma's (no "
                             "restricted diffusion: shine-through, artefacts, old infarcts); listed in "
                             "report.json (off, as in ISLA)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def prediction_settings(args: argparse.Namespace):
    from isla_nnunet.prediction.pipeline import PredictionSettings

    return PredictionSettings(ensemble="vote" if args.vote else "mean", brain_method=args.brain,
                              save_reference=getattr(args, "save_reference", False), save_mni=args.save_mni,
                              viewer=args.viewer,
                              overwrite=args.overwrite, keep_small_lesions=args.keep_small_lesions,
                              adc_check=args.adc_check, territory_atlases=_atlases(args))


def _atlases(args: argparse.Namespace) -> tuple:
    """The --territory-atlas/--territory-labels pairs, loaded and checked before anything heavy runs."""
    from isla_nnunet.prediction.territories import TerritoryAtlas

    atlases, tables = args.territory_atlas or [], args.territory_labels or []
    if len(atlases) != len(tables):
        raise ISLAError(f"{len(atlases)} --territory-atlas but {len(tables)} --territory-labels: give one label "
                        "table per atlas, in the same order")
    loaded = tuple(TerritoryAtlas.load(atlas, table) for atlas, table in zip(atlases, tables, strict=True))
    names = [atlas.name for atlas in loaded]
    if len(set(names)) != len(names):
        raise ISLAError(f"two territory atlases share the name {names}: rename one file (the name labels the "
                        "report's columns)")
    for atlas in loaded:
        print(atlas.describe())
    return loaded


def run(args: argparse.Namespace) -> int:
    from isla_nnunet.conversion import CaseSpec, discover_cases
    from isla_nnunet.prediction.run import case_id_for, predict

    if bool(args.dwi) == bool(args.input):
        raise ISLAError("give either --dwi (one case) or -i/--input (a folder or CSV of cases)")
    if args.input and (args.adc or args.b0 or args.bvalues or args.case_id):
        raise ISLAError("--adc/--b0/--bvalues/--case-id describe one case: use them with --dwi, "
                        "not with --input")
    if args.dwi:
        inputs = CaseSpec(args.case_id or case_id_for(args.dwi), args.dwi, adc=args.adc, b0=args.b0, role="test")
    else:
        inputs = discover_cases(args.input, layout=args.layout)
    result = predict(inputs, args.output, model_options(args), prediction_settings(args), bvalues=args.bvalues,
                     progress=not args.no_progress)
    return 1 if result.failed else EXIT_FLAGGED if result.registration_flagged else 0


def model_options(args: argparse.Namespace):
    """The models and how they run, from the options of :func:`add_prediction_options`."""
    from isla_nnunet.prediction.run import ModelOptions

    return ModelOptions(args.model or (), args.device, args.tta, args.folds, args.checkpoint, args.precision,
                        args.patch_step)
