"""Where unlabeled images live, their preprocessing hook, and the two-view augmentation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from isla_nnunet.errors import ISLAError
from isla_nnunet.training.unlabeled import (
    preprocessed_unlabeled_folder,
    unlabeled_cases,
    unlabeled_preprocessor_class,
)
from isla_nnunet.training.unlabeled_loader import TwoIntensityViews, split_views, unlabeled_transforms

DATASET_JSON = {"channel_names": {"0": "DWI", "1": "ADC"}, "file_ending": ".nii.gz",
                "unlabeled": {"folder": "imagesUnlabeledTr", "numUnlabeled": 2}}


def _raw(tmp_path, unlabeled=("case_0005", "case_0006"), labeled=("case_0000",)):
    for sub, ids in (("imagesUnlabeledTr", unlabeled), ("imagesTr", labeled)):
        (tmp_path / sub).mkdir(exist_ok=True)
        for case_id in ids:
            for c in range(2):
                (tmp_path / sub / f"{case_id}_{c:04d}.nii.gz").write_bytes(b"")
    return tmp_path


def test_cases_listed_with_all_channels(tmp_path):
    cases = unlabeled_cases(_raw(tmp_path), DATASET_JSON)
    assert list(cases) == ["case_0005", "case_0006"]
    assert [f.name for f in cases["case_0006"]] == ["case_0006_0000.nii.gz", "case_0006_0001.nii.gz"]


def test_no_key_means_no_unlabeled_images(tmp_path):
    assert unlabeled_cases(_raw(tmp_path), {"channel_names": {"0": "DWI"}}) == {}


@pytest.mark.parametrize(("change", "message"), [
    (lambda root: (root / "imagesUnlabeledTr" / "case_0006_0001.nii.gz").unlink(), "lacks case_0006_0001"),
    (lambda root: _raw(root, unlabeled=("case_0007",)), "numUnlabeled=2"),
    (lambda root: _raw(root, labeled=("case_0005",)), "also labeled"),
])
def test_inconsistent_layouts_raise_one_line(tmp_path, change, message):
    root = _raw(tmp_path)
    change(root)
    with pytest.raises(ISLAError, match=message) as err:
        unlabeled_cases(root, DATASET_JSON)
    assert "\n" not in str(err.value)


def test_missing_folder_and_bad_key_raise(tmp_path):
    with pytest.raises(ISLAError, match="does not exist"):
        unlabeled_cases(tmp_path, DATASET_JSON)
    with pytest.raises(ISLAError, match="imagesUnlabeledTr"):
        unlabeled_cases(tmp_path, {**DATASET_JSON, "unlabeled": "imagesUnlabeledTr"})


def test_preprocessed_folder_is_beside_nnunets(tmp_path):
    folder = tmp_path / "Dataset991_Tiny" / "ISLAPlans_3d_fullres"
    assert preprocessed_unlabeled_folder(folder) == tmp_path / "Dataset991_Tiny" / "ISLAPlans_3d_fullres_unlabeled"


def test_preprocessor_adds_empty_class_locations():
    from nnunetv2.preprocessing.preprocessors.default_preprocessor import DefaultPreprocessor

    cls = unlabeled_preprocessor_class(DefaultPreprocessor)
    assert issubclass(cls, DefaultPreprocessor) and unlabeled_preprocessor_class(DefaultPreprocessor) is cls


def _sample(seed=0):
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand((2, 12, 40, 36), generator=generator) + 0.5
    seg = torch.zeros((1, 12, 40, 36), dtype=torch.int16)
    image[:, :, :6] = 0  # a non-brain band
    seg[:, :, :6] = -1
    return image, seg


def test_views_share_the_spatial_transform_exactly():
    np.random.seed(3)
    image, seg = _sample()
    pipeline = unlabeled_transforms((12, 40, 36), 2)
    # Without intensity augmentation the two views must coincide voxel for voxel.
    pipeline.transforms[2] = TwoIntensityViews([])
    out = pipeline(image=image.clone(), segmentation=seg.clone())
    student, teacher = split_views(out["image"][None], 2)
    assert torch.equal(student, teacher)
    # ... and the spatial augmentation did move the image (a rotation or translation was drawn).
    assert not torch.equal(student[0], image)


def test_views_get_independent_intensity_augmentation():
    np.random.seed(4)
    image, seg = _sample()
    out = unlabeled_transforms((12, 40, 36), 2)(image=image.clone(), segmentation=seg.clone())
    student, teacher = split_views(out["image"][None], 2)
    assert out["image"].shape == (4, 12, 40, 36)
    assert not torch.allclose(student, teacher)
    # Same geometry: the zeroed non-brain voxels coincide in both views.
    student_zero, teacher_zero = (student[0] == 0).all(dim=0), (teacher[0] == 0).all(dim=0)
    assert student_zero.any() and torch.equal(student_zero, teacher_zero)


def test_split_views_rejects_wrong_channel_count():
    with pytest.raises(ValueError, match="4 channels"):
        split_views(torch.zeros(1, 3, 2, 2, 2), 2)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    from isla_nnunet.simulation.dataset import write_nnunet_dataset

    return write_nnunet_dataset(tmp_path_factory.mktemp("raw"), 992, "Mini", n_train=1, n_test=0, n_unlabeled=1,
                                seed=0)


def test_dataset_json_written_by_simulator_is_understood(simulated):
    from isla_nnunet.nnunet.planning import check_raw_dataset

    cases = unlabeled_cases(simulated, json.loads((simulated / "dataset.json").read_text()))
    assert list(cases) == ["case_0001"]
    check_raw_dataset(simulated)


@pytest.mark.parametrize(("array", "message"), [
    (np.zeros((10, 10, 10), np.float32), "reference grid"),
    (np.full((192, 224, 32), np.nan, np.float32), "NaN"),
])
def test_planning_checks_unlabeled_images(simulated, tmp_path, array, message):
    import shutil

    import nibabel as nib

    from isla_nnunet.nnunet.planning import check_raw_dataset

    folder = tmp_path / simulated.name
    shutil.copytree(simulated, folder)
    target = folder / "imagesUnlabeledTr" / "case_0001_0001.nii.gz"
    reference = nib.load(str(target))
    nib.save(nib.Nifti1Image(array, reference.affine, reference.header), str(target))
    with pytest.raises(ISLAError, match=message):
        check_raw_dataset(folder)
