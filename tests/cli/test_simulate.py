import json

from isla_nnunet.cli import main


def test_cli_writes_an_nnunet_dataset_and_refuses_to_overwrite(tmp_path, capsys):
    argv = [
        "simulate",
        str(tmp_path),
        "-n",
        "1",
        "--nnunet-id",
        "654",
        "--name",
        "Cli",
        "--unlabeled",
        "1",
        "--unlabeled-domain",
        "soop-like",
        "--seed",
        "3",
    ]
    assert main(argv) == 0
    folder = tmp_path / "Dataset654_Cli"
    meta = json.loads((folder / "dataset.json").read_text())
    assert meta["numTraining"] == 1
    assert meta["unlabeled"] == {"folder": "imagesUnlabeledTr", "numUnlabeled": 1, "domain": "soop-like"}
    assert (folder / "imagesUnlabeledTr" / "case_0001_0001.nii.gz").is_file()
    assert main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_cli_native_cases_and_domain_list(tmp_path, capsys):
    assert main(["simulate", str(tmp_path / "native"), "--domain", "isles22-like", "--no-brain-mask"]) == 0
    assert sorted(p.name for p in (tmp_path / "native").iterdir()) == [
        "case_0000.json",
        "case_0000_adc.nii.gz",
        "case_0000_dwi.nii.gz",
        "case_0000_msk.nii.gz",
    ]
    assert main(["simulate", "--list-domains"]) == 0
    assert "soop-like" in capsys.readouterr().out
    assert main(["simulate", str(tmp_path), "--domain", "nope"]) == 2
