"""Threshold and minimum lesion size chosen by grid search, the post-processing of Clèrigues et al. (2019).

The probability map is binarised at a threshold Th and connected components (26-connected) smaller
than Smin voxels are removed (§3.5). Th and Smin are found by grid search over validation cases,
Th in 0.1-0.9 and Smin in 10-1000 voxels (§4.1), maximising the mean over cases of the paper's
combined score (eq. 2):

    score = DSC * (1 - HD / HDmax) / (DSC + (1 - HD / HDmax)),   HDmax = 200 voxels

with HD the Hausdorff distance of the 2015 ISLES challenge: the largest distance from a surface voxel
of either mask to the other mask's surface, measured here in voxels (unit spacing, as HDmax is) and
capped at HDmax. The score is half the harmonic mean of DSC and 1 - HD/HDmax, so a perfect
segmentation scores 0.5; it is 0 when either term is 0 (also for an empty prediction of a lesion).
Two empty masks count as perfect (DSC 1, HD 0).

Example:
    >>> combined_score(1.0, 0.0)
    0.5
    >>> round(combined_score(0.8, 50.0), 4)   # 0.8 * 0.75 / (0.8 + 0.75)
    0.3871
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cc3d
import numpy as np
from scipy import ndimage

from isla_nnunet.errors import ISLAError
from isla_nnunet.evaluation.metrics import CONNECTIVITY, dice

HD_MAX_VOXELS = 200.0
THRESHOLDS = tuple(round(0.1 * k, 1) for k in range(1, 10))
MIN_SIZES = (10, 20, 50, 100, 200, 300, 500, 750, 1000)
FILE_NAME = "postprocessing.json"


@dataclass(frozen=True)
class PostProcessing:
    """Binarise at ``threshold`` (p > threshold), then drop lesions of fewer than ``min_size_voxels``."""

    threshold: float = 0.5
    min_size_voxels: int = 0

    def __post_init__(self):
        if not 0.0 < self.threshold < 1.0:
            raise ISLAError(f"post-processing threshold must lie in (0, 1), got {self.threshold}")
        if self.min_size_voxels < 0:
            raise ISLAError(f"minimum lesion size must be >= 0 voxels, got {self.min_size_voxels}")

    def apply(self, probability: np.ndarray) -> np.ndarray:
        """The binary mask of a lesion probability map (any shape of 2 or 3 dimensions)."""
        return remove_small_lesions(np.asarray(probability) > self.threshold, self.min_size_voxels)

    def describe(self) -> str:
        """The rule in words.

        Example:
            >>> PostProcessing(0.3, 20).describe()
            'probability > 0.3, lesions of >= 20 voxels'
        """
        return f"probability > {self.threshold:g}, lesions of >= {self.min_size_voxels} voxels"

    def save(self, path: Path, **details) -> None:
        """Write the settings (and ``details``, e.g. the search's score) as JSON, atomically."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps({**asdict(self), **details}, indent=2) + "\n")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> PostProcessing:
        """Read a file written by :meth:`save`. Raises ISLAError for a missing or malformed file."""
        try:
            data = json.loads(Path(path).read_text())
            return cls(float(data["threshold"]), int(data["min_size_voxels"]))
        except FileNotFoundError:
            raise ISLAError(f"{path}: post-processing file not found") from None
        except (ValueError, KeyError, TypeError) as err:
            raise ISLAError(f"{path}: not a post-processing file ({err}); rerun the search") from None


def remove_small_lesions(mask: np.ndarray, min_size_voxels: int) -> np.ndarray:
    """``mask`` without its 26-connected components of fewer than ``min_size_voxels`` voxels."""
    mask = np.asarray(mask, dtype=bool)
    if min_size_voxels <= 1 or not mask.any():
        return mask
    labels = cc3d.connected_components(mask, connectivity=CONNECTIVITY if mask.ndim == 3 else 8)
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_size_voxels
    keep[0] = False
    return keep[labels]


def hausdorff_voxels(pred: np.ndarray, gt: np.ndarray) -> float:
    """Symmetric Hausdorff distance between the masks' surfaces, in voxels; 0 if both are empty, inf if one is."""
    pred, gt = np.asarray(pred, bool), np.asarray(gt, bool)
    if pred.shape != gt.shape:
        raise ISLAError(f"masks differ in shape: {pred.shape} and {gt.shape}")
    if not pred.any() and not gt.any():
        return 0.0
    if not pred.any() or not gt.any():
        return math.inf
    structure = ndimage.generate_binary_structure(pred.ndim, 1)
    surfaces = [m & ~ndimage.binary_erosion(m, structure, border_value=0) for m in (pred, gt)]
    a_to_b = ndimage.distance_transform_edt(~surfaces[1])[surfaces[0]].max()
    b_to_a = ndimage.distance_transform_edt(~surfaces[0])[surfaces[1]].max()
    return float(max(a_to_b, b_to_a))


def combined_score(dsc: float, hd_voxels: float, hd_max: float = HD_MAX_VOXELS) -> float:
    """Eq. 2 of Clèrigues et al.: DSC (1 - HD/HDmax) / (DSC + 1 - HD/HDmax), HD capped at HDmax."""
    closeness = 1.0 - min(hd_voxels, hd_max) / hd_max
    if dsc + closeness == 0:
        return 0.0
    return dsc * closeness / (dsc + closeness)


def case_score(pred: np.ndarray, gt: np.ndarray) -> float:
    return combined_score(dice(pred, gt), hausdorff_voxels(pred, gt))


@dataclass(frozen=True)
class SearchResult:
    best: PostProcessing
    score: float
    # (threshold, min size) -> mean score over the cases
    table: dict[tuple[float, int], float]


def search(cases: Iterable[tuple[np.ndarray, np.ndarray]], thresholds: Sequence[float] = THRESHOLDS,
           min_sizes: Sequence[int] = MIN_SIZES) -> SearchResult:
    """Grid search of (Th, Smin) maximising the mean combined score over ``(probability, label)`` cases.

    Ties go to the smaller Smin, then to the threshold nearer 0.5 (the settings that change least).

    Raises:
        ISLAError: no cases, shapes that differ, probabilities outside [0, 1].
    """
    totals: dict[tuple[float, int], float] = {(float(t), int(s)): 0.0 for t in thresholds for s in min_sizes}
    n = 0
    for probability, label in cases:
        probability, label = np.asarray(probability, np.float32), np.asarray(label) > 0
        if probability.shape != label.shape:
            raise ISLAError(f"probability {probability.shape} and label {label.shape} differ in shape")
        if np.isnan(probability).any() or (probability.size and not 0 <= probability.min() <= probability.max() <= 1):
            raise ISLAError("probabilities must lie in [0, 1] without NaN")
        for threshold in thresholds:
            # components once per threshold; each Smin only drops the small ones
            labels = cc3d.connected_components(probability > threshold, connectivity=CONNECTIVITY)
            sizes = np.bincount(labels.ravel())
            for min_size in min_sizes:
                keep = sizes >= min_size
                keep[0] = False
                totals[float(threshold), int(min_size)] += case_score(keep[labels], label)
        n += 1
    if n == 0:
        raise ISLAError("no validation cases to search post-processing settings on")
    table = {key: total / n for key, total in totals.items()}
    best = max(table, key=lambda k: (round(table[k], 12), -k[1], -abs(k[0] - 0.5)))
    return SearchResult(PostProcessing(*best), table[best], table)


def validation_cases(model_folder: Path, folds: Sequence[str], labels: Path | None = None):
    """(case, lesion probability, label) of a trained model's validation cases, in nnU-Net's array order.

    ``nnUNetv2_train --npz`` leaves ``fold_F/validation/CASE.npz`` (softmax probabilities on the case's
    grid); the labels default to ``$nnUNet_preprocessed/<dataset>/gt_segmentations``, the dataset being
    the model folder's parent.

    Raises:
        ISLAError: no probabilities (trained without ``--npz``), a label missing or of another shape.
    """
    import os

    import nibabel as nib

    model_folder = Path(model_folder)
    if labels is None:
        preprocessed = os.environ.get("nnUNet_preprocessed")
        if not preprocessed:
            raise ISLAError("nnUNet_preprocessed is not set: set it or give --labels")
        labels = Path(preprocessed) / model_folder.parent.name / "gt_segmentations"
    files = sorted(f for fold in folds for f in (model_folder / f"fold_{fold}" / "validation").glob("*.npz"))
    if not files:
        raise ISLAError(f"no validation probabilities (*.npz) in {model_folder}/fold_{{{','.join(folds)}}}/validation: "
                        "train with `nnUNetv2_train ... --npz` or run `nnUNetv2_train ... --val --npz`")
    for file in files:
        label_file = Path(labels) / f"{file.stem}.nii.gz"
        if not label_file.is_file():
            raise ISLAError(f"no label {label_file} for validation case {file.stem}: "
                            "give the labels folder with --labels")
        with np.load(file) as data:
            probability = data["probabilities"][1]
        label = np.asarray(nib.load(label_file).dataobj).transpose(2, 1, 0)   # (x, y, z) -> nnU-Net's (z, y, x)
        if label.shape != probability.shape:
            raise ISLAError(f"{label_file} is {label.shape[::-1]} voxels but its probabilities are "
                            f"{probability.shape[::-1]}: labels of another dataset?")
        yield file.stem, probability, label
