"""Case ids from file names, and pairing of prediction and ground-truth files by case id.

Two naming schemes are understood:

- nnU-Net: ``CASE.nii.gz`` (predictions, ``labelsTr``), ``CASE.npz`` (probabilities); the id is the
  file name without its extension.
- ISLES'22 BIDS: ``sub-strokecase0001_ses-0001_msk.nii.gz``, ``..._dwi.nii.gz``; the id is the subject
  entity ``sub-strokecase0001``. Any name starting with ``sub-`` is treated this way.

Example:
    >>> case_id("sub-strokecase0001_ses-0001_msk.nii.gz"), case_id("ISLES_0001.nii.gz")
    ('sub-strokecase0001', 'ISLES_0001')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from isla_nnunet.errors import ISLAError

IMAGE_EXTENSIONS = (".nii.gz", ".nii", ".mha", ".mhd", ".nrrd", ".nhdr")
PROBABILITY_EXTENSIONS = (".npz", *IMAGE_EXTENSIONS)


def _extension(name: str, extensions: tuple[str, ...]) -> str | None:
    lowered = name.lower()
    return next((ext for ext in extensions if lowered.endswith(ext)), None)


def case_id(path: str | os.PathLike) -> str:
    """Case id of a mask, image or probability file (see the module docstring for the rules)."""
    name = Path(path).name
    extension = _extension(name, PROBABILITY_EXTENSIONS)
    stem = name[: -len(extension)] if extension else name
    return stem.split("_")[0] if stem.startswith("sub-") else stem


def find_cases(path: str | os.PathLike, pattern: str = "*", probabilities: bool = False) -> dict[str, Path]:
    """Map case id -> file for a file or a folder (searched recursively, so BIDS trees work).

    Args:
        path: one file, or a folder.
        pattern: glob on file names inside a folder, e.g. ``"*_msk.nii.gz"`` to pick the masks of a
            BIDS tree that also holds DWI and ADC images.
        probabilities: also accept nnU-Net ``.npz`` files; where ``CASE.npz`` and ``CASE.nii.gz`` both
            exist (nnU-Net writes both) the ``.npz`` is taken, the NIfTI being its thresholded mask.

    Raises:
        ISLAError: missing path, no image file, or two files with the same case id.
    """
    path = Path(path)
    extensions = PROBABILITY_EXTENSIONS if probabilities else IMAGE_EXTENSIONS
    if path.is_file():
        return {case_id(path): path}
    if not path.is_dir():
        raise ISLAError(f"{path} does not exist: give a file or a folder of masks")
    found: dict[str, list[Path]] = {}
    for file in sorted(path.rglob(pattern)):
        if file.is_file() and not file.name.startswith(".") and _extension(file.name, extensions):
            found.setdefault(case_id(file), []).append(file)
    if not found:
        kinds = ", ".join(extensions)
        raise ISLAError(f"no {kinds} files matching '{pattern}' under {path}: check the folder and pattern")
    cases = {}
    for case, files in found.items():
        if probabilities and len(files) > 1:
            npz = [f for f in files if f.name.lower().endswith(".npz")]
            files = npz if len(npz) == 1 else files
        if len(files) > 1:
            shown = ", ".join(str(f.relative_to(path)) for f in files[:3])
            raise ISLAError(f"case {case} has {len(files)} files under {path} ({shown}): "
                            "narrow the search with a file pattern such as '*_msk.nii.gz'")
        cases[case] = files[0]
    return cases


@dataclass(frozen=True)
class CasePairs:
    """Prediction/ground-truth pairs matched by case id, and the ids left without a partner."""

    pairs: list[tuple[str, Path, Path]]
    only_pred: list[str]
    only_gt: list[str]


def match_cases(pred: dict[str, Path], gt: dict[str, Path]) -> CasePairs:
    """Pair two case maps by id; pairs are sorted by case id.

    Raises:
        ISLAError: no case id in common.
    """
    common = sorted(set(pred) & set(gt))
    if not common:
        raise ISLAError(f"no case id in common between {len(pred)} predictions (e.g. {min(pred)}) and "
                        f"{len(gt)} ground-truth masks (e.g. {min(gt)}): use matching file names "
                        "(CASE.nii.gz, or sub-XXX_... BIDS names)")
    return CasePairs(
        pairs=[(case, pred[case], gt[case]) for case in common],
        only_pred=sorted(set(pred) - set(gt)),
        only_gt=sorted(set(gt) - set(pred)),
    )


def pair_inputs(pred: str | os.PathLike, gt: str | os.PathLike, pred_pattern: str = "*",
                gt_pattern: str = "*") -> CasePairs:
    """Pairs for a prediction and a ground-truth argument, each a file or a folder.

    Two files are paired whatever their names (``--pred a.nii.gz --gt b.nii.gz``), under the ground
    truth's case id; otherwise :func:`find_cases` on both sides and :func:`match_cases`.

    Raises:
        ISLAError: as :func:`find_cases` and :func:`match_cases`.
    """
    pred, gt = Path(pred), Path(gt)
    if pred.is_file() and gt.is_file():
        return CasePairs([(case_id(gt), pred, gt)], [], [])
    return match_cases(find_cases(pred, pred_pattern), find_cases(gt, gt_pattern))
