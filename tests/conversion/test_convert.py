"""isla convert end to end: synthetic CSV dataset (parallel, unlabeled, failures, resume, nnU-Net check),
isla to-native, and the two real cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk
from preprocessing.synthetic import make_case, rigid, write_case

from isla_nnunet.cli import main
from isla_nnunet.conversion import DatasetFolder, convert_dataset, discover_cases
from isla_nnunet.conversion.qc import NCC_THRESHOLD
from isla_nnunet.errors import ISLAError
from isla_nnunet.io import load_mask, read_image


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0, b > 0
    return 2 * (a & b).sum() / (a.sum() + b.sum())


@pytest.fixture(scope="module")
def synthetic_csv(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    rows = ["case_id,dwi,adc,mask,role"]
    for i, (angles, shift) in enumerate(
        [
            ((5.0, 0.0, 8.0), (4.0, -6.0, 2.0)),
            ((-6.0, 3.0, 0.0), (-8.0, 5.0, 6.0)),
            ((0.0, 0.0, -10.0), (0.0, 10.0, 0.0)),
        ]
    ):
        paths = write_case(root, f"c{i}", make_case(rigid(angles, shift), seed=i))
        role = "unlabeled" if i == 2 else ""
        rows.append(f"case{i},{paths['dwi'].name},{paths['adc'].name},{paths['lesion'].name},{role}")
    rows.append("broken,missing_dwi.nii.gz,missing_adc.nii.gz,,")
    (root / "cases.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def converted(synthetic_csv, tmp_path_factory):
    output = tmp_path_factory.mktemp("raw") / "Dataset950_Synthetic"
    code = main(["convert", str(synthetic_csv / "cases.csv"), "-o", str(output), "-np", "2", "--no-progress"])
    return code, DatasetFolder(output)


def test_outputs_and_dataset_json(converted):
    code, folder = converted
    assert code == 1  # one case failed, the others went on
    content = json.loads((folder.path / "dataset.json").read_text())
    assert content["numTraining"] == 2 and content["unlabeled"] == {
        "folder": "imagesUnlabeledTr",
        "numUnlabeled": 1,
    }
    for case in ("case0", "case1"):
        assert all(p.is_file() for p in folder.outputs(case, "train"))
    assert all(p.is_file() for p in folder.outputs("case2", "unlabeled"))
    dwi = read_image(folder.image_paths("case0", "train")[0])
    assert dwi.GetSize() == (192, 224, 32) and dwi.GetPixelID() == sitk.sitkFloat32


def test_failure_summary(converted):
    _, folder = converted
    summary = json.loads((folder.path / "conversion_summary.json").read_text())
    assert summary["failed"] == ["broken"] and summary["converted"] == 3
    (broken,) = [c for c in summary["cases"] if c["case_id"] == "broken"]
    assert "missing_dwi.nii.gz does not exist" in broken["error"]
    assert all(c["qc_score"] > NCC_THRESHOLD for c in summary["cases"] if c["status"] == "converted")


def test_nnunet_accepts_the_dataset(converted):
    from nnunetv2.experiment_planning.verify_dataset_integrity import verify_dataset_integrity

    verify_dataset_integrity(str(converted[1].path), num_processes=1)


def test_resume_skips_finished_cases(converted, synthetic_csv, capsys):
    _, folder = converted
    code = main(["convert", str(synthetic_csv / "cases.csv"), "-o", str(folder.path), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 1 and "0 converted, 3 skipped" in out and "FAILED broken" in out


def test_role_conflict_refused(converted, synthetic_csv):
    specs = [s for s in discover_cases(synthetic_csv / "cases.csv", unlabeled=True) if s.case_id == "case0"]
    with pytest.raises(ISLAError, match="already in Dataset950_Synthetic as train"):
        convert_dataset(specs, converted[1].path, progress=False)


def test_to_native_cli_maps_labels_back(converted, synthetic_csv, tmp_path):
    _, folder = converted
    out = tmp_path / "native.nii.gz"
    code = main(
        [
            "to-native",
            str(folder.label_path("case0")),
            "-t",
            str(folder.transform_path("case0")),
            "-o",
            str(out),
        ]
    )
    assert code == 0
    truth = sitk.GetArrayFromImage(read_image(synthetic_csv / "c0_lesion.nii.gz"))
    assert _dice(sitk.GetArrayFromImage(read_image(out)), truth) > 0.75


def test_to_native_cli_error_is_one_line(tmp_path, capsys):
    code = main(
        [
            "to-native",
            str(tmp_path / "p.nii.gz"),
            "-t",
            str(tmp_path / "t.json"),
            "-o",
            str(tmp_path / "o.nii.gz"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "cannot read transform" in err


def test_real_cases(shared_data, tmp_path):
    specs = discover_cases(shared_data / "soop") + discover_cases(
        shared_data / "isles22" / "sub-strokecase0009"
    )
    summary = convert_dataset(specs, tmp_path / "Dataset951_Real", progress=False)
    assert not summary.failed and not summary.flagged
    folder = DatasetFolder(tmp_path / "Dataset951_Real")
    for spec in specs:
        dwi_path, adc_path = folder.image_paths(spec.case_id, "train")
        adc = sitk.GetArrayFromImage(read_image(adc_path))
        dwi = sitk.GetArrayFromImage(read_image(dwi_path))
        assert 600 < np.median(adc[adc > 0]) < 1400  # 1e-6 mm^2/s for both unit conventions
        assert dwi.min() >= 0 and ((dwi > 0) == (adc > 0)).mean() > 0.99
    soop = specs[0]
    native = tmp_path / "soop_native.nii.gz"
    main(
        [
            "to-native",
            str(folder.label_path(soop.case_id)),
            "-t",
            str(folder.transform_path(soop.case_id)),
            "-o",
            str(native),
        ]
    )
    truth = load_mask(soop.lesion, read_image(soop.dwi))
    assert _dice(sitk.GetArrayFromImage(read_image(native)), sitk.GetArrayFromImage(truth)) >= 0.90


def test_native_grid_keeps_each_case_on_its_dwi_grid(synthetic_csv, tmp_path):
    output = tmp_path / "Dataset952_Native"
    specs = [s for s in discover_cases(synthetic_csv / "cases.csv") if s.case_id in ("case0", "case1")]
    summary = convert_dataset(specs, output, grid="native", progress=False, brain_method="template")
    assert not summary.failed and summary.converted == ["case0", "case1"]
    folder = DatasetFolder(output, "native")
    for spec in specs:
        source = read_image(spec.dwi)
        dwi = read_image(folder.image_paths(spec.case_id, "train")[0])
        label = read_image(folder.label_path(spec.case_id))
        for written in (dwi, label):
            assert written.GetSize() == source.GetSize()
            assert np.allclose(written.GetSpacing(), source.GetSpacing())
            assert np.allclose(written.GetOrigin(), source.GetOrigin())
            assert np.allclose(written.GetDirection(), source.GetDirection())
        # the DWI as read wherever the brain is, 0 elsewhere; the label is the mask itself
        written, read = sitk.GetArrayFromImage(dwi), sitk.GetArrayFromImage(source)
        inside = written > 0
        assert inside.mean() > 0.05 and np.allclose(written[inside], read[inside], rtol=1e-5)
        truth = sitk.GetArrayFromImage(load_mask(spec.lesion, source))
        assert np.array_equal(sitk.GetArrayFromImage(label), truth > 0)
        assert not folder.qc_path(spec.case_id).exists()
        record = json.loads(folder.transform_path(spec.case_id).read_text())["info"]
        assert record["grid"] == "native" and record["spacing_xyz"] == pytest.approx(source.GetSpacing())
    content = json.loads((output / "dataset.json").read_text())
    assert content["isla"]["grid"] == "native" and "reference_grid" not in content["isla"]
    assert content["numTraining"] == 2
    # resumable, and never mixed with reference-grid cases
    assert convert_dataset(specs, output, grid="native", progress=False).skipped == ["case0", "case1"]
    with pytest.raises(ISLAError, match="holds cases on the native grid"):
        convert_dataset(specs, output, progress=False)


def test_native_grid_option_of_the_command(synthetic_csv, tmp_path, capsys):
    output = tmp_path / "Dataset953_Native"
    code = main(["convert", str(synthetic_csv / "cases.csv"), "-o", str(output), "--grid", "native",
                 "--no-progress"])
    assert code == 1 and "FAILED broken" in capsys.readouterr().out   # the broken row fails, the rest are written
    assert json.loads((output / "dataset.json").read_text())["isla"]["grid"] == "native"
    from nnunetv2.experiment_planning.verify_dataset_integrity import verify_dataset_integrity

    verify_dataset_integrity(str(output), num_processes=1)
