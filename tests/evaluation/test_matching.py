"""Case ids from nnU-Net and ISLES'22 BIDS names, folder searches and prediction/GT pairing."""

from __future__ import annotations

import pytest

from isla_nnunet.errors import ISLAError
from isla_nnunet.evaluation.matching import case_id, find_cases, match_cases, pair_inputs


@pytest.mark.parametrize(
    "name, expected",
    [
        ("ISLES_0001.nii.gz", "ISLES_0001"),
        ("case_12.mha", "case_12"),
        ("case_12.npz", "case_12"),
        ("Case.NII.GZ", "Case"),
        ("sub-strokecase0001_ses-0001_msk.nii.gz", "sub-strokecase0001"),
        ("sub-strokecase0001_ses-0001_dwi.nii.gz", "sub-strokecase0001"),
        ("sub-strokecase0001.nii.gz", "sub-strokecase0001"),
        ("sub-3_space-TRACE_desc-lesion_mask.nii.gz", "sub-3"),
        ("38496fea-2c64-4afe-9c42-d4d527191040.mha", "38496fea-2c64-4afe-9c42-d4d527191040"),
    ],
)
def test_case_id(name, expected):
    assert case_id(f"/some/folder/{name}") == expected


def _touch(folder, names, content=b""):
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def test_find_cases_nnunet_folder_ignores_other_files(tmp_path):
    _touch(tmp_path, ["a.nii.gz", "b.nii.gz", "a.pkl", "plans.json", ".hidden.nii.gz", "notes.txt"])
    assert {k: v.name for k, v in find_cases(tmp_path).items()} == {"a": "a.nii.gz", "b": "b.nii.gz"}


def test_find_cases_bids_tree_with_pattern(tmp_path):
    _touch(tmp_path, [
        "sub-strokecase0001/ses-0001/anat/sub-strokecase0001_ses-0001_FLAIR.nii.gz",
        "sub-strokecase0001/ses-0001/dwi/sub-strokecase0001_ses-0001_dwi.nii.gz",
        "derivatives/sub-strokecase0001/ses-0001/sub-strokecase0001_ses-0001_msk.nii.gz",
        "derivatives/sub-strokecase0002/ses-0001/sub-strokecase0002_ses-0001_msk.nii.gz",
    ])
    with pytest.raises(ISLAError, match="case sub-strokecase0001 has 3 files.*'\\*_msk.nii.gz'"):
        find_cases(tmp_path)
    found = find_cases(tmp_path, "*_msk.nii.gz")
    assert sorted(found) == ["sub-strokecase0001", "sub-strokecase0002"]
    assert all(p.name.endswith("_msk.nii.gz") for p in found.values())


def test_find_cases_probabilities_prefer_npz(tmp_path):
    _touch(tmp_path, ["a.npz", "a.nii.gz", "a.pkl", "b.nii.gz"])
    found = find_cases(tmp_path, probabilities=True)
    assert {k: v.name for k, v in found.items()} == {"a": "a.npz", "b": "b.nii.gz"}
    assert {k: v.name for k, v in find_cases(tmp_path).items()} == {"a": "a.nii.gz", "b": "b.nii.gz"}


def test_find_cases_errors(tmp_path):
    with pytest.raises(ISLAError, match="does not exist"):
        find_cases(tmp_path / "absent")
    _touch(tmp_path, ["readme.txt"])
    with pytest.raises(ISLAError, match="no .* files"):
        find_cases(tmp_path)


def test_find_cases_single_file(tmp_path):
    _touch(tmp_path, ["sub-strokecase0007_ses-0001_msk.nii.gz"])
    assert list(find_cases(tmp_path / "sub-strokecase0007_ses-0001_msk.nii.gz")) == ["sub-strokecase0007"]


def test_match_cases_across_naming_schemes(tmp_path):
    pred = {"sub-strokecase0001": tmp_path / "sub-strokecase0001.nii.gz",
            "sub-strokecase0003": tmp_path / "sub-strokecase0003.nii.gz"}
    gt = {"sub-strokecase0001": tmp_path / "sub-strokecase0001_ses-0001_msk.nii.gz",
          "sub-strokecase0002": tmp_path / "sub-strokecase0002_ses-0001_msk.nii.gz"}
    pairs = match_cases(pred, gt)
    assert [(c, p.name, g.name) for c, p, g in pairs.pairs] == [
        ("sub-strokecase0001", "sub-strokecase0001.nii.gz", "sub-strokecase0001_ses-0001_msk.nii.gz")]
    assert pairs.only_pred == ["sub-strokecase0003"]
    assert pairs.only_gt == ["sub-strokecase0002"]


def test_pair_inputs_two_files_pair_whatever_the_names(tmp_path):
    _touch(tmp_path, ["x.nii.gz", "y.nii.gz"])
    pairs = pair_inputs(tmp_path / "x.nii.gz", tmp_path / "y.nii.gz")
    assert [(c, p.name, g.name) for c, p, g in pairs.pairs] == [("y", "x.nii.gz", "y.nii.gz")]


def test_pair_inputs_folders_match_by_id(tmp_path):
    _touch(tmp_path / "p", ["x.nii.gz"])
    _touch(tmp_path / "g", ["y.nii.gz"])
    with pytest.raises(ISLAError, match="no case id in common"):
        pair_inputs(tmp_path / "p", tmp_path / "g")
    _touch(tmp_path / "g", ["x.nii.gz"])
    assert [c for c, _, _ in pair_inputs(tmp_path / "p", tmp_path / "g").pairs] == ["x"]


def test_match_cases_nothing_in_common(tmp_path):
    with pytest.raises(ISLAError, match="no case id in common"):
        match_cases({"a": tmp_path, "b": tmp_path}, {"c": tmp_path, "d": tmp_path})
