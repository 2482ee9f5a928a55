"""Shared fixtures: the real cases in ../shared/data (skipped with a reason when absent)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet.nnunet import commands as nnunet_cli

# Keep nnU-Net and torch polite on small CI machines.
os.environ.setdefault("nnUNet_n_proc_DA", "0")
os.environ.setdefault("nnUNet_def_n_proc", "2")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the real MRI cases; tests using it skip when the folder is not beside the checkout."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real MRI cases not found at {SHARED_DATA} (only present beside the CI checkout)")
    return SHARED_DATA


# --- A tiny nnU-Net workspace shared by the slow end-to-end tests -----------------------------------
# Built once per test session through the user-facing commands (isla plan, nnUNetv2_train), each in a
# child process with the workspace's environment, so the tests exercise what users type.

TINY_DATASET_ID = 991
TINY_TRAINER = "ISLATrainer_B_1epoch"


@dataclass(frozen=True)
class TinyWorkspace:
    """An nnU-Net workspace: ``env`` holds nnUNet_raw/preprocessed/results and the ISLA trainer folder."""

    root: Path
    env: dict
    dataset_id: int
    dataset_name: str

    @property
    def raw(self) -> Path:
        return Path(self.env["nnUNet_raw"]) / self.dataset_name

    @property
    def preprocessed(self) -> Path:
        return Path(self.env["nnUNet_preprocessed"]) / self.dataset_name

    def model_folder(self, trainer: str) -> Path:
        return Path(self.env["nnUNet_results"]) / self.dataset_name / f"{trainer}__ISLAPlans__3d_fullres"

    def run(self, *argv) -> None:
        """Run an installed command (``isla``, ``nnUNetv2_*``) in this workspace; raises ISLAError on failure."""
        nnunet_cli.run(argv, self.env, self.root / "commands.log")

    def train(self, trainer: str, fold: int = 0, *extra) -> Path:
        """Train ``trainer`` with the stock ``nnUNetv2_train`` on CPU (once per session) and return its model folder."""
        folder = self.model_folder(trainer)
        if not (folder / f"fold_{fold}" / "checkpoint_final.pth").exists():
            self.run("nnUNetv2_train", self.dataset_id, "3d_fullres", fold, "-p", "ISLAPlans", "-tr", trainer,
                     "-device", "cpu", "--npz", *extra)
        return folder


@pytest.fixture(scope="session")
def tiny_workspace(tmp_path_factory) -> TinyWorkspace:
    """Six labeled source-domain cases, two test cases and four unlabeled target-domain images on the
    reference grid, planned with small filters and a batch of 2 (about 40 s)."""
    from isla_nnunet.demo import DEMO_FEATURES
    from isla_nnunet.simulation.dataset import write_nnunet_dataset

    root = tmp_path_factory.mktemp("nnunet")
    env = nnunet_cli.nnunet_environment(root)
    for name in nnunet_cli.FOLDER_VARIABLES:
        Path(env[name]).mkdir()
    folder = write_nnunet_dataset(env["nnUNet_raw"], TINY_DATASET_ID, "Tiny", n_train=6, n_test=2, seed=7,
                                  n_unlabeled=4, unlabeled_domain="target")
    workspace = TinyWorkspace(root, env, TINY_DATASET_ID, folder.name)
    workspace.run("isla", "plan", "-d", TINY_DATASET_ID, "--features", ",".join(map(str, DEMO_FEATURES)),
                  "--gpu-memory-target", "2")
    return workspace


@pytest.fixture(scope="session")
def trained_isla_model(tiny_workspace) -> Path:
    """ISLA-B trained for one epoch on fold 0 through the stock ``nnUNetv2_train`` (about a minute on CPU)."""
    return tiny_workspace.train(TINY_TRAINER)


@pytest.fixture(scope="session")
def native_case(tmp_path_factory) -> dict:
    """One simulated ISLES'22-like case (2 mm isotropic, skull-stripped, 10 ml single lesion) as NIfTI
    files: {"dwi", "adc", "msk", "brainmask", "json"} paths (about 6 s to make)."""
    from isla_nnunet.simulation import simulate_case, write_native_case

    case = simulate_case(5, "isles22-like", pattern="single", volume_ml=10.0)
    return write_native_case(case, tmp_path_factory.mktemp("native"), "sim5")


@pytest.fixture
def save_image():
    """``save_image(path, array, spacing_zyx=(1, 1, 1), origin_xyz=(0, 0, 0))`` -> path."""

    def write(path, array, spacing_zyx=(1.0, 1.0, 1.0), origin_xyz=(0.0, 0.0, 0.0)) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        image = sitk.GetImageFromArray(np.asarray(array))
        image.SetSpacing([float(s) for s in spacing_zyx[::-1]])
        image.SetOrigin([float(o) for o in origin_xyz])
        sitk.WriteImage(image, str(path))
        return path

    return write
