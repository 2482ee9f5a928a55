"""Model folder and zip checks: every wrong model is a one-line error before any weight is read."""

from __future__ import annotations

import json
import zipfile

import pytest

from isla_nnunet.errors import ISLAError
from isla_nnunet.prediction.model_checks import check_configuration, check_dataset_json, check_model_folder
from isla_nnunet.prediction.model_zip import unpack_model_zip
from isla_nnunet.prediction.models import ModelSet, resolve_device

from .helpers import write_model_folder

GOOD_JSON = {"channel_names": {"0": "DWI", "1": "ADC"}, "labels": {"background": 0, "lesion": 1}}


def _one_line(info) -> str:
    message = str(info.value)
    assert "\n" not in message
    return message


def test_good_folder_is_accepted_with_all_its_folds(tmp_path):
    folder = write_model_folder(tmp_path, folds=(0, 3, 1))
    info = check_model_folder(folder)
    assert info.folds == (0, 1, 3)
    assert info.name == "ISLATrainer_B__ISLAPlans__3d_fullres"
    assert check_model_folder(folder, folds=["3"]).folds == (3,)


def test_fold_all_is_used_when_no_numbered_fold_exists(tmp_path):
    folder = write_model_folder(tmp_path, folds=("all",))
    assert check_model_folder(folder).folds == ("all",)


@pytest.mark.parametrize("channel_names, labels, message", [
    ({"0": "T1", "1": "FLAIR"}, {"background": 0, "lesion": 1}, "reads the channels"),
    ({"0": "ADC", "1": "DWI"}, {"background": 0, "lesion": 1}, "reads the channels"),
    ({"0": "DWI"}, {"background": 0, "lesion": 1}, "reads the channels"),
    ({"0": "DWI", "1": "ADC"}, {"background": 0, "core": 1, "penumbra": 2}, "segments the labels"),
    ({"0": "DWI", "1": "ADC"}, {"background": 0, "lesion": [1, 2]}, "segments the labels"),
])
def test_dataset_json_of_another_task(channel_names, labels, message):
    with pytest.raises(ISLAError, match=message) as info:
        check_dataset_json({"channel_names": channel_names, "labels": labels}, "m")
    _one_line(info)


def test_channel_names_are_case_insensitive():
    check_dataset_json({**GOOD_JSON, "channel_names": {"0": "dwi", "1": "Adc"}}, "m")


@pytest.mark.parametrize("spacing, patch, message", [
    ([1.0, 1.0, 1.0], [32, 224, 192], "planned for 1 x 1 x 1 mm"),
    ([0.9, 0.9, 6.0], [32, 224, 192], "planned for 0.9 x 0.9 x 6 mm"),   # axes in the wrong order
    ([6.0, 0.9, 0.9], [64, 224, 192], "larger than the reference grid"),
])
def test_plans_of_another_grid(spacing, patch, message):
    with pytest.raises(ISLAError, match=message) as info:
        check_configuration(spacing, patch, "m", "3d_fullres")
    _one_line(info)


def test_smaller_patch_is_accepted():
    check_configuration([6.0, 0.9, 0.9], [32, 160, 128], "m", "3d_fullres")


def test_folder_checks(tmp_path):
    with pytest.raises(ISLAError, match="does not exist") as info:
        check_model_folder(tmp_path / "nothing")
    _one_line(info)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ISLAError, match="no plans.json or dataset.json"):
        check_model_folder(tmp_path / "empty")
    folder = write_model_folder(tmp_path, folds=())
    with pytest.raises(ISLAError, match="no fold_N/checkpoint_final.pth"):
        check_model_folder(folder)
    other = write_model_folder(tmp_path / "b", folds=(0,))
    with pytest.raises(ISLAError, match="no fold_2/checkpoint_final.pth"):
        check_model_folder(other, folds=[2])
    with pytest.raises(ISLAError, match="not a fold number"):
        check_model_folder(other, folds=["x"])
    with pytest.raises(ISLAError, match="no fold_N/checkpoint_best.pth"):
        check_model_folder(other, checkpoint="checkpoint_best.pth")


def test_folder_plans_are_checked_without_loading(tmp_path):
    folder = write_model_folder(tmp_path, spacing=(1.0, 1.0, 1.0))
    with pytest.raises(ISLAError, match=r"\(3d_fullres\) was planned for 1 x 1 x 1 mm"):
        check_model_folder(folder)


def test_inherited_configuration_is_resolved(tmp_path):
    folder = write_model_folder(tmp_path, name="T__P__3d_child", spacing=(1.0, 1.0, 1.0))
    plans = json.loads((folder / "plans.json").read_text())
    plans["configurations"]["3d_child"] = {"inherits_from": "3d_fullres", "batch_size": 2}
    (folder / "plans.json").write_text(json.dumps(plans))
    with pytest.raises(ISLAError, match=r"\(3d_child\) was planned for 1 x 1 x 1 mm"):
        check_model_folder(folder)


def test_broken_json_is_reported(tmp_path):
    folder = write_model_folder(tmp_path)
    (folder / "dataset.json").write_text("{not json")
    with pytest.raises(ISLAError, match="cannot read dataset.json"):
        check_model_folder(folder)


def _zip(path, folder, arcroot="Dataset991_Tiny"):
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, f"{arcroot}/{folder.name}/{file.relative_to(folder)}")
    return path


def test_exported_zip_layout_is_unpacked(tmp_path):
    folder = write_model_folder(tmp_path / "src")
    archive = _zip(tmp_path / "model.zip", folder)
    found = unpack_model_zip(archive, tmp_path / "unpacked")
    assert found.resolve() == (tmp_path / "unpacked" / "Dataset991_Tiny" / folder.name).resolve()
    assert check_model_folder(found).folds == (0,)


def test_zip_with_two_models_or_none(tmp_path):
    a = write_model_folder(tmp_path / "a", name="A__ISLAPlans__3d_fullres")
    b = write_model_folder(tmp_path / "b", name="B__ISLAPlans__3d_fullres")
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for folder in (a, b):
            for file in folder.rglob("*"):
                if file.is_file():
                    out.write(file, f"D/{folder.name}/{file.relative_to(folder)}")
    with pytest.raises(ISLAError, match="holds 2 trained-model folders"):
        unpack_model_zip(archive, tmp_path / "x")
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as out:
        out.writestr("readme.txt", "nothing")
    with pytest.raises(ISLAError, match="holds 0 trained-model folders"):
        unpack_model_zip(empty, tmp_path / "y")


def test_bad_zips(tmp_path):
    not_zip = tmp_path / "model.zip"
    not_zip.write_text("plain text")
    with pytest.raises(ISLAError, match="cannot unpack model"):
        unpack_model_zip(not_zip, tmp_path / "x")
    escaping = tmp_path / "evil.zip"
    with zipfile.ZipFile(escaping, "w") as out:
        out.writestr("../outside.txt", "x")
    with pytest.raises(ISLAError, match="outside its folder"):
        unpack_model_zip(escaping, tmp_path / "y")
    assert not (tmp_path / "outside.txt").exists()


def test_model_set_check(tmp_path):
    with pytest.raises(ISLAError, match="no model given"):
        ModelSet.check([])
    with pytest.raises(ISLAError, match="does not exist"):
        ModelSet.check([tmp_path / "missing"])
    folder = write_model_folder(tmp_path, channels=("DWI", "FLAIR"))
    with pytest.raises(ISLAError, match="reads the channels"):
        ModelSet.check([folder])


def test_device_names():
    import torch

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ISLAError, match="unknown"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ISLAError, match="no CUDA GPU"):
            resolve_device("cuda")
