import json

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet import reference
from isla_nnunet.errors import ISLAError
from isla_nnunet.simulation import case_seed, simulate_case, write_native_cases, write_nnunet_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    raw = tmp_path_factory.mktemp("nnUNet_raw")
    folder = write_nnunet_dataset(raw, 987, "SimTest", n_train=2, n_test=1, n_unlabeled=1, seed=5)
    return raw, folder


def test_layout_and_dataset_json(dataset):
    _, folder = dataset
    assert folder.name == "Dataset987_SimTest"
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert names == {
        "dataset.json",
        "simulation.json",
        "imagesTr/case_0000_0000.nii.gz",
        "imagesTr/case_0000_0001.nii.gz",
        "labelsTr/case_0000.nii.gz",
        "imagesTr/case_0001_0000.nii.gz",
        "imagesTr/case_0001_0001.nii.gz",
        "labelsTr/case_0001.nii.gz",
        "imagesTs/case_0002_0000.nii.gz",
        "imagesTs/case_0002_0001.nii.gz",
        "labelsTs/case_0002.nii.gz",
        "imagesUnlabeledTr/case_0003_0000.nii.gz",
        "imagesUnlabeledTr/case_0003_0001.nii.gz",
    }
    meta = json.loads((folder / "dataset.json").read_text())
    assert meta["channel_names"] == {"0": "DWI", "1": "ADC"}
    assert meta["labels"] == {"background": 0, "lesion": 1}
    assert meta["numTraining"] == 2 and meta["file_ending"] == ".nii.gz"
    assert meta["unlabeled"] == {"folder": "imagesUnlabeledTr", "numUnlabeled": 1, "domain": "target"}
    assert meta["isla"]["adc_unit_mm2_per_s"] == 1e-6
    cases = json.loads((folder / "simulation.json").read_text())["cases"]
    assert [cases[c]["split"] for c in sorted(cases)] == ["train", "train", "test", "unlabeled"]
    assert cases["case_0003"]["acquisition"]["domain"] == "target"
    assert cases["case_0001"]["seed"] == case_seed(5, "train", 1)


def test_nnunet_reads_the_reference_grid(dataset):
    from nnunetv2.imageio.simpleitk_reader_writer import SimpleITKIO

    _, folder = dataset
    image = sitk.ReadImage(str(folder / "imagesTr" / "case_0000_0000.nii.gz"))
    assert np.allclose(image.GetSpacing(), reference.SPACING_XYZ, atol=1e-5)
    assert image.GetSize() == reference.SHAPE_XYZ
    images, properties = SimpleITKIO().read_images(
        [str(folder / "imagesTr" / f"case_0000_000{c}.nii.gz") for c in (0, 1)]
    )
    assert images.shape == (2, *reference.SHAPE_ZYX)
    assert np.allclose(properties["spacing"], reference.SPACING_ZYX, atol=1e-5)
    seg, _ = SimpleITKIO().read_seg(str(folder / "labelsTr" / "case_0000.nii.gz"))
    assert seg.shape == (1, *reference.SHAPE_ZYX)
    label = nib.load(folder / "labelsTr" / "case_0000.nii.gz")
    assert label.get_data_dtype() == np.uint8 and set(np.unique(np.asarray(label.dataobj))) <= {0, 1}
    assert np.allclose(label.affine, reference.affine(), atol=1e-4)


def test_images_match_a_direct_simulation_in_canonical_units(dataset):
    _, folder = dataset
    case = simulate_case(case_seed(5, "train", 0), "source", grid="reference")
    dwi = np.asarray(nib.load(folder / "imagesTr" / "case_0000_0000.nii.gz").dataobj)
    adc = np.asarray(nib.load(folder / "imagesTr" / "case_0000_0001.nii.gz").dataobj)
    assert np.array_equal(dwi, case.dwi)
    assert np.allclose(adc, case.adc * 1000.0, rtol=1e-6)  # source stores 1e-3, the dataset 1e-6
    unlabeled_adc = np.asarray(nib.load(folder / "imagesUnlabeledTr" / "case_0003_0001.nii.gz").dataobj)
    assert 700 < np.median(unlabeled_adc[unlabeled_adc > 0]) < 1300


def test_nnunet_accepts_the_dataset(dataset, monkeypatch):
    from nnunetv2.experiment_planning.verify_dataset_integrity import verify_dataset_integrity
    from nnunetv2.utilities import dataset_name_id_conversion
    from nnunetv2.utilities.utils import get_filenames_of_train_images_and_targets

    raw, folder = dataset
    monkeypatch.setenv("nnUNet_raw", str(raw))
    for variable in ("nnUNet_preprocessed", "nnUNet_results"):
        monkeypatch.setenv(variable, str(raw / variable))
    assert dataset_name_id_conversion.maybe_convert_to_dataset_name(987) == folder.name
    training = get_filenames_of_train_images_and_targets(str(folder))
    assert sorted(training) == ["case_0000", "case_0001"]  # unlabeled and test images are not training cases
    verify_dataset_integrity(str(folder), num_processes=1)


def test_refuses_to_overwrite_and_replaces_on_request(dataset, tmp_path):
    raw, folder = dataset
    with pytest.raises(ISLAError, match="overwrite"):
        write_nnunet_dataset(raw, 987, "SimTest", n_train=1)
    with pytest.raises(ISLAError, match="already used"):
        write_nnunet_dataset(raw, 987, "Other", n_train=1, overwrite=True)
    fresh = write_nnunet_dataset(tmp_path, 1, "Small", n_train=1)
    again = write_nnunet_dataset(tmp_path, 1, "Small", n_train=1, seed=1, overwrite=True)
    assert fresh == again and not (again / "imagesUnlabeledTr").exists()
    assert json.loads((again / "dataset.json").read_text())["simulation"]["seed"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Dataset001_Small"]  # no staging left behind
    with pytest.raises(ISLAError, match="1-999"):
        write_nnunet_dataset(tmp_path, 1000, "Small", n_train=1)
    with pytest.raises(ISLAError, match="name"):
        write_nnunet_dataset(tmp_path, 2, "bad name", n_train=1)


def test_native_cases(tmp_path):
    written = write_native_cases(tmp_path, 1, "soop-like", seed=2)
    files = written[0]
    assert {p.name for p in tmp_path.iterdir()} == {p.name for p in files.values()}
    meta = json.loads(files["json"].read_text())
    case = simulate_case(case_seed(2, "train", 0), "soop-like")
    assert meta["DiffusionBValue"] == 1000.0 and meta["adc_unit_mm2_per_s"] == 1e-6
    assert np.allclose(meta["pose"]["reference_to_scanner"], case.pose.matrix(), atol=1e-5)
    dwi = nib.load(files["dwi"])
    assert dwi.shape == (256, 256, 26) and dwi.get_data_dtype() == np.int16
    assert np.allclose(dwi.affine, case.affine, atol=1e-4)
    assert np.array_equal(np.asarray(nib.load(files["msk"]).dataobj), case.lesion)
    with pytest.raises(ISLAError, match="overwrite"):
        write_native_cases(tmp_path, 1, "soop-like", seed=2)


def test_mixed_domains_are_taken_in_turn(tmp_path):
    folder = write_nnunet_dataset(tmp_path, 989, "Mix", 4, 1, ["source", "target"])
    assert json.loads((folder / "dataset.json").read_text())["simulation"]["domain"] == "source+target"
    cases = json.loads((folder / "simulation.json").read_text())["cases"]
    domains = [cases[f"case_{i:04d}"]["acquisition"]["domain"] for i in range(5)]
    assert domains == ["source", "target", "source", "target", "source"]  # the test case: the first domain
