"""A model file must not run code: checkpoints with a pickled payload are refused before it runs.

The payload is what an attacker would put in a ``.pth``: an object whose unpickling calls
``os.system``; here the command only creates a marker file, so the tests can tell whether it ran.
The control test shows that the same file does run its payload under ``torch.load(weights_only=False)``,
which is how nnU-Net 2.8.1 reads checkpoints.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from isla_nnunet.attention_maps import load_predictor
from isla_nnunet.errors import ISLAError
from isla_nnunet.io.checkpoints import check_checkpoint_name, load_checkpoint
from isla_nnunet.prediction.shipped import shipped_model_folder
from isla_nnunet.training.trainer import ISLATrainer

from .helpers import refused


class Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def nnunet_like_checkpoint() -> dict:
    """What an nnU-Net 2.8.1 trainer saves, with the types it uses (numpy numbers in the logs)."""
    layer = torch.nn.Conv3d(2, 2, 3)
    optimizer = torch.optim.Adam(layer.parameters())
    layer(torch.zeros(1, 2, 3, 3, 3)).sum().backward()
    optimizer.step()
    return {
        "network_weights": layer.state_dict(),
        "optimizer_state": optimizer.state_dict(),
        "grad_scaler_state": None,
        "logging": {"mean_fg_dice": [np.float64(0.5)], "ema_fg_dice": [np.float64(0.4)],
                    "dice_per_class_or_region": [[np.float32(0.5)]], "train_losses": [0.3],
                    "lrs": [0.002], "epoch_start_timestamps": [1.7e9]},
        "_best_ema": np.float32(0.4),
        "current_epoch": 3,
        "init_args": {"plans": {"plans_name": "ISLAPlans"}, "configuration": "3d_fullres", "fold": 0,
                      "dataset_json": {"labels": {"background": 0, "lesion": 1}},
                      "device": torch.device("cpu")},
        "trainer_name": "ISLATrainer_B",
        "inference_allowed_mirroring_axes": (0, 1, 2),
    }


def poisoned(path: Path, marker: Path) -> Path:
    checkpoint = nnunet_like_checkpoint()
    checkpoint["logging"]["note"] = Payload(marker)
    torch.save(checkpoint, path)
    return path


@pytest.fixture
def poisoned_model(tmp_path) -> tuple[Path, Path]:
    """(a copy of the shipped model folder whose checkpoint carries the payload, the marker path)."""
    folder = tmp_path / "models" / shipped_model_folder().name
    shutil.copytree(shipped_model_folder(), folder)
    marker = tmp_path / "payload_ran"
    real = torch.load(folder / "fold_0" / "checkpoint_final.pth", weights_only=True)
    real["logging"] = {"note": Payload(marker)}
    torch.save(real, folder / "fold_0" / "checkpoint_final.pth")
    return folder, marker


def test_control_unrestricted_unpickling_runs_the_payload(tmp_path):
    marker = tmp_path / "payload_ran"
    torch.load(poisoned(tmp_path / "x.pth", marker), weights_only=False)
    assert marker.exists()


def test_load_checkpoint_refuses_the_payload_and_names_it(tmp_path):
    marker = tmp_path / "payload_ran"
    with pytest.raises(ISLAError, match=r"holds the Python object \S*system.*refusing it") as err:
        load_checkpoint(poisoned(tmp_path / "x.pth", marker))
    assert "\n" not in str(err.value)
    assert not marker.exists()


def test_load_checkpoint_reads_what_nnunet_trainers_save(tmp_path):
    saved = nnunet_like_checkpoint()
    torch.save(saved, tmp_path / "ok.pth")
    loaded = load_checkpoint(tmp_path / "ok.pth")
    assert loaded["_best_ema"] == np.float32(0.4) and loaded["logging"]["mean_fg_dice"] == [0.5]
    assert loaded["init_args"]["device"] == torch.device("cpu")
    assert torch.equal(loaded["network_weights"]["weight"], saved["network_weights"]["weight"])


def test_load_checkpoint_reads_the_shipped_model():
    loaded = load_checkpoint(shipped_model_folder() / "fold_0" / "checkpoint_final.pth")
    assert loaded["trainer_name"] == shipped_model_folder().name.split("__")[0]


@pytest.mark.parametrize(("content", "message"), [
    (None, "does not exist"),
    (b"", "damaged or not a torch checkpoint"),
    (b"PK\x03\x04 cut short", "damaged or not a torch checkpoint"),
])
def test_load_checkpoint_missing_or_damaged(tmp_path, content, message):
    path = tmp_path / "checkpoint_final.pth"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ISLAError, match=message):
        load_checkpoint(path)


def test_load_checkpoint_refuses_a_non_dict(tmp_path):
    torch.save([torch.zeros(2)], tmp_path / "list.pth")
    with pytest.raises(ISLAError, match="holds a list, not an nnU-Net checkpoint"):
        load_checkpoint(tmp_path / "list.pth")


@pytest.mark.parametrize("name", ["checkpoint_final.pth", "checkpoint_best.pth", "my model.pth"])
def test_checkpoint_names_accepted(name):
    assert check_checkpoint_name(name) == name


@pytest.mark.parametrize("name", ["", ".", "..", "../checkpoint_final.pth", "/etc/passwd",
                                  "fold_1/checkpoint_final.pth", "../../x.pth"])
def test_checkpoint_names_refused(name):
    with pytest.raises(ISLAError, match="is not a file name"):
        check_checkpoint_name(name)


def _predict_refused(capsys, argv: list, message: str, out: Path) -> str:
    return refused(capsys, ["predict", *argv], message, out)


def test_isla_predict_refuses_a_poisoned_model_folder(native_case, poisoned_model, capsys, tmp_path):
    folder, marker = poisoned_model
    out = tmp_path / "out"
    _predict_refused(capsys, ["--dwi", native_case["dwi"], "--adc", native_case["adc"], "-m", folder,
                              "-o", out, "--device", "cpu"], "which could run code when read", out)
    assert not marker.exists()


def test_isla_predict_refuses_a_poisoned_model_zip(native_case, poisoned_model, capsys, tmp_path):
    folder, marker = poisoned_model
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in folder.rglob("*"):
            zipped.write(path, Path("Dataset601_SimStrokeB") / path.relative_to(folder.parent))
    out = tmp_path / "out"
    _predict_refused(capsys, ["--dwi", native_case["dwi"], "--adc", native_case["adc"], "-m", archive,
                              "-o", out, "--device", "cpu"], "which could run code when read", out)
    assert not marker.exists()


def test_isla_predict_refuses_a_checkpoint_path(native_case, capsys, tmp_path):
    out = tmp_path / "out"
    _predict_refused(capsys, ["--dwi", native_case["dwi"], "--adc", native_case["adc"],
                              "-m", shipped_model_folder(), "--checkpoint", "../../elsewhere.pth", "-o", out],
                     "--checkpoint '../../elsewhere.pth' is not a file name", out)


def test_attention_maps_refuse_a_poisoned_model(poisoned_model):
    folder, marker = poisoned_model
    with pytest.raises(ISLAError, match="which could run code when read"):
        load_predictor(folder, 0)
    assert not marker.exists()
    with pytest.raises(ISLAError, match="is not a file name"):
        load_predictor(folder, 0, "../fold_0/checkpoint_final.pth")


def test_training_resume_refuses_a_poisoned_checkpoint(tmp_path):
    # The check runs before nnU-Net's own load (which would unpickle), so an unset-up trainer suffices.
    marker = tmp_path / "payload_ran"
    trainer = object.__new__(ISLATrainer)
    with pytest.raises(ISLAError, match="which could run code when read"):
        trainer.load_checkpoint(str(poisoned(tmp_path / "checkpoint_latest.pth", marker)))
    assert not marker.exists()
