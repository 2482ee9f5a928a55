"""The package as a user installs it: a wheel built with ``python -m build``, installed into a new venv.

The new venv gets the wheel only; its third-party dependencies (torch, nnU-Net, ...) come from the
test environment through a path file, because resolving a second copy of torch here would take
gigabytes and minutes and test pip rather than this package. Every command runs outside the
checkout, so nothing can be imported from the source tree.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# nnUNetv2_train's own lookup of a trainer by name; prints the file that defines the class found.
FIND_TRAINER = ("import inspect, sys; from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name "
                "as find; print(inspect.getfile(find(sys.argv[1])))")


def _run(args, cwd: Path, env: dict | None = None) -> str:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, encoding="utf-8",
                            errors="replace", timeout=600)
    assert result.returncode == 0, f"{args[:3]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Built from a copy: setuptools reuses a checkout's build/ folder, so files removed from the package
    # (e.g. a replaced shipped model) would live on in the wheel, and the checkout stays untouched.
    source = tmp_path_factory.mktemp("source") / "isla-nnunet"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache", "isla_demo"))
    out = tmp_path_factory.mktemp("dist")
    # build's own isolated environment would download setuptools: use this environment's.
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", out, source], cwd=out)
    (built,) = out.glob("isla_nnunet-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> dict:
    """A new venv with the wheel installed; returns its bin folder and a clean environment."""
    where = tmp_path_factory.mktemp("fresh")
    venv.EnvBuilder(with_pip=False).create(where / "venv")
    python = where / "venv" / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--quiet", wheel],
         cwd=where)
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=where).strip())
    # A plain path line: the test environment's .pth files (its editable install of this checkout) stay inactive.
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("nnUNet") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    return {"bin": python.parent, "site": site, "env": env, "cwd": where}


def test_wheel_carries_the_glue_folders_the_shipped_model_and_the_licence(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"isla_nnunet/nnunet_trainers/isla_trainers.py", "isla_nnunet/nnunet_planners/isla_planner.py"} <= names
    shipped = [n for n in names if n.startswith("isla_nnunet/shipped_model/")]
    checkpoints = [n for n in shipped if n.endswith("checkpoint_final.pth")]
    assert len(checkpoints) == 1 and "isla_nnunet/shipped_model/figures.json" in names
    assert "isla_nnunet/prediction/viewer_page.html" in names  # the viewer's page template
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    # Only the namespaced glue: no generic top-level "trainers" or "planners" package.
    assert not {n.split("/")[0] for n in names} & {"trainers", "planners", "tests", "scripts"}


def test_installed_commands_run_from_the_wheel(installed):
    bin_dir, env, cwd = installed["bin"], installed["env"], installed["cwd"]
    location = _run([bin_dir / "python", "-c", "import isla_nnunet; print(isla_nnunet.__file__)"], cwd, env)
    assert Path(location.strip()).is_relative_to(installed["site"])
    assert "--output" in _run([bin_dir / "isla", "predict", "--help"], cwd, env)
    trainers = _run([bin_dir / "isla", "check", "--list-trainers"], cwd, env).split()
    assert "ISLATrainer_B" in trainers and "ISLATrainer_MT" in trainers and len(trainers) >= 48
    # isla env points nnU-Net at the installed trainers folder, and nnU-Net finds a trainer there by name.
    exports = dict(line.removeprefix("export ").split("=", 1) for line in
                   _run([bin_dir / "isla", "env"], cwd, env).splitlines() if line.startswith("export "))
    nnunet_env = {**env, **{k: shlex.split(v)[0] for k, v in exports.items()}}
    assert Path(nnunet_env["nnUNet_extTrainer"].split(os.pathsep)[0]).is_relative_to(installed["site"])
    found = _run([bin_dir / "python", "-c", FIND_TRAINER, "ISLATrainer_MT"], cwd, nnunet_env)
    assert Path(found.strip().splitlines()[-1]).is_relative_to(installed["site"])


def test_installed_wheel_predicts_with_the_shipped_model(installed, tmp_path):
    bin_dir, env = installed["bin"], installed["env"]
    printed = _run([bin_dir / "isla", "demo", "--workdir", tmp_path / "demo", "--data", tmp_path / "no_data"],
                   tmp_path, env)
    assert "Dice" in printed
    (report_file,) = (tmp_path / "demo").rglob("report.json")
    report = json.loads(report_file.read_text())
    assert len(report["models"]) == 1 and report["models"][0]["shipped"] is True
    assert "the shipped model" in printed
    assert (report_file.parent / "qc.png").stat().st_size > 0
