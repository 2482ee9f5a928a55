import os
import subprocess
import sys

import pytest

from isla_nnunet.errors import ISLAError
from isla_nnunet.nnunet import commands as nnunet_cli
from isla_nnunet.nnunet import environment as nnunet_env


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


def test_non_ascii_output_is_read_whatever_the_locale(tmp_path):
    # A parent process whose locale encoding is ASCII (as on bare CI machines) reads a child's
    # UTF-8 progress bar.
    child = tmp_path / "child.py"
    child.write_text("import sys\nsys.stdout.buffer.write('bar \\u2588 17%\\n'.encode('utf-8'))\n")
    parent = tmp_path / "parent.py"
    parent.write_text(
        "import locale, os, sys\n"
        "from isla_nnunet.nnunet import commands as nnunet_cli\n"
        "assert locale.getpreferredencoding(False).lower() in ('ascii', 'ansi_x3.4-1968')\n"
        "seen = []\n"
        f"nnunet_cli.run(['python', {str(child)!r}], os.environ, {str(tmp_path / 'log.txt')!r}, echo=seen.append)\n"
        "assert seen == ['bar \\u2588 17%'], seen\n")
    env = {**os.environ, "LC_ALL": "POSIX", "LANG": "POSIX", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"}
    result = subprocess.run([sys.executable, "-X", "utf8=0", str(parent)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
