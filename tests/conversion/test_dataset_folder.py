"""The nnU-Net raw dataset folder: naming, dataset.json from disk, the unlabeled entry."""

from __future__ import annotations

import pytest

from isla_nnunet.conversion import DatasetFolder
from isla_nnunet.errors import ISLAError


def test_folder_name_must_suit_nnunet(tmp_path):
    with pytest.raises(ISLAError, match="is not named DatasetNNN_Name"):
        DatasetFolder(tmp_path / "isles")


def test_dataset_json_counts_what_is_on_disk(tmp_path):
    folder = DatasetFolder(tmp_path / "Dataset123_Stroke")
    for path in [
        *folder.image_paths("a", "train"),
        folder.label_path("a"),
        *folder.image_paths("b", "train"),  # images without label: not counted
        *folder.image_paths("t", "test"),
    ]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    content = folder.dataset_json()
    assert content["numTraining"] == 1 and content["name"] == "Stroke"
    assert content["channel_names"] == {"0": "DWI", "1": "ADC"}
    assert content["labels"] == {"background": 0, "lesion": 1} and content["file_ending"] == ".nii.gz"
    assert "unlabeled" not in content and content["isla"]["numTest"] == 1
    for path in folder.image_paths("u", "unlabeled"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    assert folder.dataset_json()["unlabeled"] == {"folder": "imagesUnlabeledTr", "numUnlabeled": 1}
    assert folder.image_paths("u", "unlabeled")[1].name == "u_0001.nii.gz"


def test_case_is_done_only_when_every_output_exists(tmp_path):
    folder = DatasetFolder(tmp_path / "Dataset123_Stroke")
    outputs = folder.outputs("a", "test")
    assert outputs[-1] == folder.transform_path("a")
    for path in outputs[:-1]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    assert not folder.is_done("a", "test")
    outputs[-1].parent.mkdir(parents=True, exist_ok=True)
    outputs[-1].write_text("{}")
    assert folder.is_done("a", "test")
