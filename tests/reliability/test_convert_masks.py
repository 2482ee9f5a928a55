"""``isla convert`` takes lesion masks of 0 and 1 only, unless ``--binarize-masks`` says otherwise.

Before this check any value > 0 (and any negative one) silently became lesion, so a label map (1 =
acute, 2 = chronic) or a probability map trained the model on the wrong target.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet.cli import main
from isla_nnunet.conversion import DatasetFolder


@pytest.fixture
def labelled(native_case, tmp_path):
    """A CSV of two cases with the same images: "binary" with the 0/1 lesion mask, "labels" with the
    lesion's lower half labelled 1 and its upper half 2."""
    mask = sitk.ReadImage(str(native_case["msk"]))
    array = sitk.GetArrayFromImage(mask).astype(np.uint8)
    slices = np.flatnonzero(array.any(axis=(1, 2)))
    array[slices[len(slices) // 2]:] *= 2
    labels = sitk.GetImageFromArray(array)
    labels.CopyInformation(mask)
    sitk.WriteImage(labels, str(tmp_path / "labels.nii.gz"))
    images = f"{native_case['dwi']},{native_case['adc']}"
    (tmp_path / "cases.csv").write_text(
        f"case_id,dwi,adc,mask\nbinary,{images},{native_case['msk']}\nlabels,{images},labels.nii.gz\n")
    return tmp_path / "cases.csv"


def _label(output, case_id):
    return sitk.GetArrayFromImage(sitk.ReadImage(str(output / "labelsTr" / f"{case_id}.nii.gz")))


def test_label_map_fails_its_case(labelled, tmp_path, capsys):
    output = tmp_path / "Dataset952_Labels"
    assert main(["convert", str(labelled), "-o", str(output), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "holds the values 0, 1, 2, not only 0 and 1" in out and "--binarize-masks" in out
    assert DatasetFolder(output).is_done("binary", "train")
    assert not DatasetFolder(output).is_done("labels", "train")


def test_binarize_masks_counts_every_label(labelled, tmp_path):
    output = tmp_path / "Dataset953_Labels"
    assert main(["convert", str(labelled), "-o", str(output), "--no-progress", "--binarize-masks"]) == 0
    # Every label > 0 is lesion: the same target as the 0/1 mask of the same lesion.
    assert _label(output, "binary").sum() > 0
    np.testing.assert_array_equal(_label(output, "labels"), _label(output, "binary"))
