"""``isla search-postprocessing``: Clèrigues et al.'s threshold and minimum lesion size for a trained model.

Grid search over the model's validation probabilities (``nnUNetv2_train ... --npz``): threshold 0.1-0.9
and minimum lesion size 10-1000 voxels, maximising the mean of DSC (1 - HD/200) / (DSC + 1 - HD/200)
(:mod:`isla_nnunet.evaluation.postprocessing`). The result is written as ``postprocessing.json`` in the
model folder, beside ``plans.json``::

    nnUNetv2_train 5 3d_fullres 0 -p CleriguesPlans -tr CleriguesTrainer --npz
    isla search-postprocessing -m $nnUNet_results/Dataset005_X/CleriguesTrainer__CleriguesPlans__3d_fullres
"""

from __future__ import annotations

import argparse
from pathlib import Path

from isla_nnunet.errors import ISLAError
from isla_nnunet.evaluation.postprocessing import FILE_NAME, search, validation_cases

HELP = "Grid-search the threshold and minimum lesion size (Clèrigues et al. 2019) on a model's validation cases."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-m", "--model", type=Path, required=True,
                        help="trained-model folder (Trainer__Plans__configuration) with fold_F/validation/*.npz")
    parser.add_argument("-f", "--folds", nargs="+", default=["0"],
                        help="folds whose validation cases count (default 0)")
    parser.add_argument("--labels", type=Path,
                        help="folder of the validation labels "
                             "(default: $nnUNet_preprocessed/<dataset>/gt_segmentations)")


def run(args: argparse.Namespace) -> int:
    if not (args.model / "plans.json").is_file():
        raise ISLAError(f"{args.model} is not an nnU-Net trained-model folder (no plans.json)")
    names = []

    def cases():
        for name, probability, label in validation_cases(args.model, args.folds, args.labels):
            names.append(name)
            yield probability, label

    result = search(cases())
    grid = [{"threshold": t, "min_size_voxels": s, "score": round(v, 6)} for (t, s), v in sorted(result.table.items())]
    result.best.save(args.model / FILE_NAME, score=result.score, cases=names, folds=list(args.folds), grid=grid)
    print(f"threshold {result.best.threshold:g}, minimum lesion size {result.best.min_size_voxels} voxels: "
          f"mean score {result.score:.4f} over {len(names)} validation cases; wrote {args.model / FILE_NAME}")
    return 0
