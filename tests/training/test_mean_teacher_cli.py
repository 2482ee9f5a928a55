"""ISLA-MT through nnU-Net's own commands: train with unlabeled images, resume state, predict with the teacher.

nnU-Net reads its folders at import time, so the checks that need a trainer or a predictor for the
tiny workspace run in a child process (:func:`child_checks`, started with the workspace's environment).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

TRAINER = "ISLATrainer_MT_1epoch"
CHILD = "import runpy, sys; runpy.run_path(sys.argv[1])['child_checks'](*sys.argv[2:])"


def _close(a, b) -> bool:
    import torch

    return a.keys() == b.keys() and all(torch.equal(a[k].cpu(), b[k].cpu()) for k in a)


def child_checks(dataset: str, trainer_name: str, model_folder: str, case_id: str, image_dir: str,
                 out_json: str) -> None:
    """Rebuild the trainer as ``nnUNetv2_train --c`` does, compare restored state, predict with both networks."""
    import torch
    from nnunetv2.imageio.simpleitk_reader_writer import SimpleITKIO
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor
    from nnunetv2.run.run_training import get_trainer_from_args

    checkpoint_file = Path(model_folder) / "fold_0" / "checkpoint_final.pth"
    saved = torch.load(checkpoint_file, map_location="cpu", weights_only=False)
    trainer = get_trainer_from_args(dataset, "3d_fullres", 0, trainer_name, "ISLAPlans", continue_training=True,
                                    device=torch.device("cpu"))
    trainer.load_checkpoint(str(checkpoint_file))
    resaved_file = Path(out_json).with_suffix(".pth")
    trainer.save_checkpoint(str(resaved_file))
    resaved = torch.load(resaved_file, map_location="cpu", weights_only=False)

    def adam_steps(state):
        return sorted({int(s["step"]) for s in state["state"].values()})

    result = {
        "keys": sorted(saved),
        "mean_teacher": saved["mean_teacher"],
        "current_epoch": saved["current_epoch"],
        "teacher_differs_from_student": not _close(saved["network_weights"], saved["student_weights"]),
        "restored_teacher": _close(trainer.teacher.state_dict(), saved["network_weights"]),
        "restored_student": _close(trainer.student().state_dict(), saved["student_weights"]),
        "restored_epoch": trainer.current_epoch,
        "restored_ema_updates": trainer.ema_updates,
        "restored_weight": trainer.consistency_weight(),
        "restored_decay": trainer.ema_decay(),
        "adam_steps": adam_steps(saved["optimizer_state"]),
        "restored_adam_steps": adam_steps(trainer.optimizer.state_dict()),
        "roundtrip_teacher": _close(resaved["network_weights"], saved["network_weights"]),
        "roundtrip_student": _close(resaved["student_weights"], saved["student_weights"]),
        "roundtrip_state": resaved["mean_teacher"] == saved["mean_teacher"],
        "teacher_eval": not any(m.training for m in trainer.teacher.modules()),
    }

    files = [str(Path(image_dir) / f"{case_id}_{c:04d}.nii.gz") for c in range(2)]
    image, properties = SimpleITKIO().read_images(files)
    for name, network in (("teacher", trainer.teacher), ("student", trainer.student())):
        network.decoder.deep_supervision = False
        network.eval()
        predictor = nnUNetPredictor(use_mirroring=False, perform_everything_on_device=False,
                                    device=torch.device("cpu"), allow_tqdm=False)
        predictor.manual_initialization(network, trainer.plans_manager, trainer.configuration_manager,
                                        [network.state_dict()],
                                        trainer.dataset_json, trainer_name, trainer.inference_allowed_mirroring_axes)
        _, probabilities = predictor.predict_single_npy_array(image, properties, None, None, True)
        np.save(Path(out_json).with_name(f"{name}.npy"), probabilities)
    Path(out_json).write_text(json.dumps(result))


@pytest.fixture(scope="module")
def mt_model(tiny_workspace) -> Path:
    return tiny_workspace.train(TRAINER)


@pytest.mark.slow
def test_trains_with_unlabeled_images_only_in_the_consistency_term(tiny_workspace, mt_model):
    log = "".join(p.read_text() for p in (mt_model / "fold_0").glob("training_log_*.txt"))
    assert "Mean Teacher: 4 unlabeled images, 2 labeled + 2 unlabeled per step" in log
    assert "consistency weight 0.03369" in log  # 5 * exp(-5) in epoch 0
    unlabeled = {p.name.split("_0000")[0] for p in (tiny_workspace.raw / "imagesUnlabeledTr").glob("*_0000.nii.gz")}
    assert len(unlabeled) == 4
    preprocessed = tiny_workspace.preprocessed / "ISLAPlans_3d_fullres_unlabeled"
    assert {p.stem for p in preprocessed.glob("*.pkl")} == unlabeled
    # nnU-Net's cases, splits and validation hold labeled cases only.
    nnunet_cases = {p.stem for p in (tiny_workspace.preprocessed / "ISLAPlans_3d_fullres").glob("*.pkl")}
    assert nnunet_cases and not nnunet_cases & unlabeled
    splits = json.loads((tiny_workspace.preprocessed / "splits_final.json").read_text())
    assert not {c for s in splits for part in s.values() for c in part} & unlabeled
    validated = {p.name.split(".")[0] for p in (mt_model / "fold_0" / "validation").glob("*.nii.gz")}
    assert validated and not validated & unlabeled


@pytest.mark.slow
def test_resume_state_and_prediction_use_the_teacher(tiny_workspace, mt_model, tmp_path):
    case_id = "case_0006"  # the first test case (ids run train, test, unlabeled)
    image_dir = tiny_workspace.raw / "imagesTs"
    single = tmp_path / "input"
    single.mkdir()
    for c in range(2):
        (single / f"{case_id}_{c:04d}.nii.gz").symlink_to(image_dir / f"{case_id}_{c:04d}.nii.gz")
    tiny_workspace.run("nnUNetv2_predict", "-i", single, "-o", tmp_path / "cli", "-d", tiny_workspace.dataset_id,
                       "-c", "3d_fullres", "-p", "ISLAPlans", "-tr", TRAINER, "-f", 0, "-device", "cpu",
                       "--disable_tta", "--save_probabilities", "-npp", 1, "-nps", 1)
    out_json = tmp_path / "checks.json"
    argv = [tiny_workspace.dataset_id, TRAINER, mt_model, case_id, single, out_json]
    subprocess.run([sys.executable, "-c", CHILD, __file__, *map(str, argv)], env=tiny_workspace.env, check=True,
                   capture_output=True, encoding="utf-8", errors="replace")
    checks = json.loads(out_json.read_text())

    assert {"network_weights", "student_weights", "optimizer_state", "mean_teacher"} <= set(checks["keys"])
    # One epoch of ceil(4 training cases / batch 2) = 2 steps.
    assert checks["mean_teacher"]["ema_updates"] == 2 and checks["current_epoch"] == 1
    assert checks["teacher_differs_from_student"]
    assert checks["restored_teacher"] and checks["restored_student"] and checks["teacher_eval"]
    assert checks["restored_epoch"] == 1 and checks["restored_ema_updates"] == 2
    assert checks["restored_adam_steps"] == checks["adam_steps"] == [2]
    assert checks["restored_weight"] == pytest.approx(5 * np.exp(-5 * (1 - 1 / 60) ** 2))
    assert checks["restored_decay"] == 0.99
    assert checks["roundtrip_teacher"] and checks["roundtrip_student"] and checks["roundtrip_state"]

    cli = np.load(tmp_path / "cli" / f"{case_id}.npz")["probabilities"]
    teacher, student = np.load(tmp_path / "teacher.npy"), np.load(tmp_path / "student.npy")
    np.testing.assert_allclose(cli, teacher, atol=1e-6)
    assert np.abs(cli - student).max() > 1e-4


@pytest.mark.slow
def test_nnunetv2_train_resume_continues_teacher_student_ema_and_rampup(tiny_workspace, mt_model):
    import torch

    # A 2-epoch run interrupted after its first epoch: the 1-epoch model's checkpoint is its latest one.
    start_file = mt_model / "fold_0" / "checkpoint_final.pth"
    fold = tiny_workspace.model_folder("ISLATrainer_MT_2epochs") / "fold_0"
    fold.mkdir(parents=True)
    shutil.copy(start_file, fold / "checkpoint_latest.pth")
    tiny_workspace.train("ISLATrainer_MT_2epochs", 0, "--c")

    start = torch.load(start_file, map_location="cpu", weights_only=False)
    end = torch.load(fold / "checkpoint_final.pth", map_location="cpu", weights_only=False)
    log = "".join(p.read_text() for p in fold.glob("training_log_*.txt"))
    # Only the second epoch ran, at the second epoch's ramp-up weight, continuing the EMA count.
    assert "Epoch 1" in log and "Epoch 0" not in log
    assert f"consistency weight {5 * np.exp(-5 * (1 - 1 / 60) ** 2):.5g}" in log
    assert end["current_epoch"] == 2 and end["mean_teacher"]["ema_updates"] == 4
    assert sorted({int(s["step"]) for s in end["optimizer_state"]["state"].values()}) == [4]
    # Both networks moved on from the restored ones (not re-initialised: the teacher stays an EMA of them).
    assert not _close(end["network_weights"], start["network_weights"])
    assert not _close(end["student_weights"], start["student_weights"])
    assert not _close(end["network_weights"], end["student_weights"])
