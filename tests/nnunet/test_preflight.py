import json
import os

import pytest

from isla_nnunet.cli import main
from isla_nnunet.errors import ISLAError
from isla_nnunet.nnunet import environment as nnunet_env
from isla_nnunet.nnunet import preflight


@pytest.fixture
def folders(tmp_path, monkeypatch):
    for name in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results"):
        (tmp_path / name / "Dataset321_Check").mkdir(parents=True)
        monkeypatch.setenv(name, str(tmp_path / name))
    monkeypatch.setenv("nnUNet_extTrainer", str(nnunet_env.trainers_folder()))
    return tmp_path


def _plans(folders, configurations=("3d_fullres",), cases=2):
    root = folders / "nnUNet_preprocessed" / "Dataset321_Check"
    (root / "ISLAPlans.json").write_text(json.dumps({"configurations": {
        c: {"data_identifier": f"ISLAPlans_{c}"} for c in configurations}}))
    data = root / "ISLAPlans_3d_fullres"
    data.mkdir()
    for i in range(cases):
        (data / f"case_{i}.pkl").write_bytes(b"")
        (data / f"case_{i}.b2nd").write_bytes(b"")
        (data / f"case_{i}_seg.b2nd").write_bytes(b"")


def test_shipped_trainers_include_the_grid_and_nothing_foreign():
    trainers = preflight.shipped_trainers()
    assert "ISLATrainer_GDLBCE_Res_noDS_NoAtt_5epochs" in trainers and "CleriguesTrainer" in trainers
    assert all(name.startswith(("ISLATrainer", "CleriguesTrainer")) for name in trainers)


def test_a_complete_setup_passes(folders):
    _plans(folders)
    lines = preflight.check_training_setup(321, "ISLATrainer_UFL_Std_DS_NoAtt")
    assert lines[-1].endswith(": 2")


@pytest.mark.parametrize(("setup", "trainer", "message"), [
    ("no_plans", "ISLATrainer_UFL_Std_DS_NoAtt", r"no plans 'ISLAPlans'.*isla plan -d 321"),
    ("plans", "ISLATrainer_UFL_Std_DS_NoAt", r"unknown ISLA trainer.*did you mean ISLATrainer_UFL_Std_DS_NoAtt"),
    ("plans", "nnUNetTrainer", r"unknown ISLA trainer 'nnUNetTrainer'"),
    ("2d_plans", "ISLATrainer_UFL_Std_DS_NoAtt", r"no configuration '3d_fullres' \(they have 2d\)"),
    ("no_data", "ISLATrainer_UFL_Std_DS_NoAtt", r"preprocessed data missing"),
])
def test_problems_get_one_line_errors(folders, setup, trainer, message):
    if setup == "plans":
        _plans(folders)
    elif setup == "2d_plans":
        _plans(folders, configurations=("2d",))
    elif setup == "no_data":
        _plans(folders, cases=0)
    with pytest.raises(ISLAError, match=message) as err:
        preflight.check_training_setup(321, trainer)
    assert "\n" not in str(err.value)


def test_environment_problems_come_first(folders, monkeypatch):
    monkeypatch.setenv("nnUNet_extTrainer", "/not/the/plugin")
    with pytest.raises(ISLAError, match="isla env"):
        preflight.check_training_setup(321, "ISLATrainer_UFL_Std_DS_NoAtt")
    monkeypatch.delenv("nnUNet_results")
    with pytest.raises(ISLAError, match="nnUNet_results not set"):
        preflight.check_training_setup(321, "ISLATrainer_UFL_Std_DS_NoAtt")


def test_bad_cpu_precision_setting(folders, monkeypatch):
    monkeypatch.setenv("ISLA_CPU_PRECISION", "half")
    with pytest.raises(ISLAError, match="ISLA_CPU_PRECISION='half' is not a CPU precision: set it to auto, bf16"):
        preflight.check_training_setup(321, "ISLATrainer_UFL_Std_DS_NoAtt")


def test_unknown_dataset(folders):
    with pytest.raises(ISLAError, match="no dataset with id 999"):
        preflight.check_training_setup(999, "ISLATrainer_UFL_Std_DS_NoAtt")


def test_cli_prints_one_error_line_and_exits_2(folders, capsys):
    assert main(["check", "-d", "321", "-tr", "ISLATrainer_Typo"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("isla check: error: unknown ISLA trainer") and err.count("\n") == 1
    assert main(["check", "--list-trainers"]) == 0
    assert "ISLATrainer_UFL_Std_DS_NoAtt\n" in capsys.readouterr().out
    assert os.environ["nnUNet_raw"].endswith("nnUNet_raw")
