import os
import sys

import pytest

from isla_nnunet import nnunet_cli, nnunet_env
from isla_nnunet.errors import ISLAError


def test_environment_points_every_folder_under_the_root(tmp_path):
    env = nnunet_cli.nnunet_environment(tmp_path, base={"nnUNet_extTrainer": "/other", "PATH": "/bin"})
    assert env["nnUNet_raw"] == str(tmp_path / "nnUNet_raw")
    assert env["nnUNet_preprocessed"] == str(tmp_path / "nnUNet_preprocessed")
    assert env["nnUNet_extTrainer"].split(os.pathsep) == [str(nnunet_env.trainers_folder()), "/other"]
    assert env["PATH"] == "/bin" and env["nnUNet_def_n_proc"] == "2"


def test_run_logs_output_and_reports_failures_in_one_line(tmp_path):
    log = tmp_path / "log.txt"
    seen = []
    nnunet_cli.run(["python", "-c", "print('hello')"], os.environ, log, echo=seen.append)
    assert seen == ["hello"] and "hello" in log.read_text()
    with pytest.raises(ISLAError, match=r"python failed with status 3: boom .*log.txt") as err:
        nnunet_cli.run(["python", "-c", "import sys; print('boom'); sys.exit(3)"], os.environ, log)
    assert "\n" not in str(err.value)


def test_missing_command_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(ISLAError, match="command nnUNetv2_nonexistent not found"):
        nnunet_cli.executable("nnUNetv2_nonexistent")
