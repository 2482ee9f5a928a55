import os

import pytest

from isla_nnunet.errors import ISLAError
from isla_nnunet.nnunet import environment as nnunet_env


def test_trainers_folder_is_the_shipped_trainers_package():
    folder = nnunet_env.trainers_folder()
    assert (folder / "isla_trainers.py").is_file()


def test_export_lines_put_the_trainers_first_and_keep_other_folders(monkeypatch):
    monkeypatch.setenv("nnUNet_extTrainer", "/elsewhere/trainers")
    monkeypatch.delenv("nnUNet_n_proc_DA", raising=False)
    lines = nnunet_env.export_lines()
    folder = str(nnunet_env.trainers_folder())
    assert lines[0] == f"export nnUNet_extTrainer={folder}{os.pathsep}/elsewhere/trainers"
    assert "export nnUNet_n_proc_DA=0" in lines


def test_require_names_the_missing_variables(monkeypatch):
    monkeypatch.delenv("nnUNet_raw", raising=False)
    monkeypatch.setenv("nnUNet_results", "/results")
    with pytest.raises(ISLAError, match="nnUNet_raw not set"):
        nnunet_env.require("nnUNet_raw", "nnUNet_results")
    assert nnunet_env.require("nnUNet_results") == {"nnUNet_results": nnunet_env.Path("/results")}


def test_require_ext_trainer(monkeypatch):
    monkeypatch.setenv("nnUNet_extTrainer", "/somewhere/else")
    with pytest.raises(ISLAError, match="isla env"):
        nnunet_env.require_ext_trainer()
    monkeypatch.setenv("nnUNet_extTrainer", f"/x{os.pathsep}{nnunet_env.trainers_folder()}")
    nnunet_env.require_ext_trainer()


def test_environment_sets_for_a_block_and_restores_set_and_unset_values(monkeypatch):
    monkeypatch.setenv("ISLA_TEST_SET", "before")
    monkeypatch.delenv("ISLA_TEST_UNSET", raising=False)
    with nnunet_env.environment({"ISLA_TEST_SET": "inside", "ISLA_TEST_UNSET": "inside"}):
        assert os.environ["ISLA_TEST_SET"] == os.environ["ISLA_TEST_UNSET"] == "inside"
    assert os.environ["ISLA_TEST_SET"] == "before" and "ISLA_TEST_UNSET" not in os.environ
    with pytest.raises(RuntimeError), nnunet_env.environment({"ISLA_TEST_SET": "inside"}):
        raise RuntimeError
    assert os.environ["ISLA_TEST_SET"] == "before"


def test_trainers_first_keeps_other_folders_once():
    folder = str(nnunet_env.trainers_folder())
    value = nnunet_env.trainers_first(os.pathsep.join(["/a", folder, "/b", ""]))
    assert value.split(os.pathsep) == [folder, "/a", "/b"]
    assert nnunet_env.trainers_first(None) == folder
