"""Test doubles and files for the prediction tests: a reference-space "model", model folders, cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from isla_nnunet import reference
from isla_nnunet.prediction.models import ModelSet
from isla_nnunet.preprocessing import reference_image

# A ball in the reference space (LPS mm): the right hemisphere's deep white matter.
BALL_CENTRE_LPS = (-25.0, -10.0, 25.0)
BALL_RADIUS_MM = 15.0
BALL_PROBABILITY = 0.9


def reference_ball(centre_lps=BALL_CENTRE_LPS, radius_mm: float = BALL_RADIUS_MM) -> np.ndarray:
    """Boolean (z, y, x) array on the reference grid, True at voxel centres inside the ball."""
    grid = reference_image.reference_grid()
    index = np.indices(reference.SHAPE_ZYX).reshape(3, -1)[::-1].T.astype(float)  # (n, xyz)
    direction = np.asarray(grid.GetDirection()).reshape(3, 3)
    points = np.asarray(grid.GetOrigin()) + (index * np.asarray(grid.GetSpacing())) @ direction.T
    inside = np.linalg.norm(points - np.asarray(centre_lps), axis=1) <= radius_mm
    return inside.reshape(reference.SHAPE_ZYX)


class BallModel:
    """Stands in for a loaded nnU-Net model: a fixed probability map on the reference grid.

    It records the channels it was given, so tests can check what the pipeline feeds a network.
    """

    postprocessing = None

    def __init__(self, name: str = "ball", centre_lps=BALL_CENTRE_LPS, radius_mm: float = BALL_RADIUS_MM,
                 probability: float = BALL_PROBABILITY, input_channels: int = 2):
        self.name = name
        self.input_channels = input_channels
        self.map = np.where(reference_ball(centre_lps, radius_mm), probability, 0.0).astype(np.float32)
        self.calls: list[np.ndarray] = []

    def lesion_probability(self, channels: np.ndarray) -> np.ndarray:
        self.calls.append(channels)
        return self.map.copy()

    def to_dict(self) -> dict:
        return {"name": self.name, "source": "test double"}


def model_set(*models) -> ModelSet:
    return ModelSet(list(models), "cpu", False)


def write_model_folder(root: Path, name: str = "ISLATrainer_B__ISLAPlans__3d_fullres",
                       channels=("DWI", "ADC"), spacing=(6.0, 0.9, 0.9), patch=(32, 224, 192),
                       folds=(0,)) -> Path:
    """A trained-model folder that passes the file checks (checkpoints are empty files)."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "dataset.json").write_text(json.dumps({
        "channel_names": {str(i): c for i, c in enumerate(channels)},
        "labels": {"background": 0, "lesion": 1}, "numTraining": 6, "file_ending": ".nii.gz"}))
    (folder / "plans.json").write_text(json.dumps({
        "plans_name": "ISLAPlans",
        "configurations": {"3d_fullres": {"spacing": list(spacing), "patch_size": list(patch)}}}))
    for fold in folds:
        (folder / f"fold_{fold}").mkdir()
        (folder / f"fold_{fold}" / "checkpoint_final.pth").write_bytes(b"")
    return folder


def geometry(image: sitk.Image) -> tuple:
    return image.GetSize(), image.GetSpacing(), image.GetOrigin(), image.GetDirection()
