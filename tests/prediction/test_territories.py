"""Territory and lobe report: label tables, atlas checks, hand-counted volumes, simulated lesions."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet.cli import main
from isla_nnunet.conversion.cases import CaseSpec
from isla_nnunet.errors import ISLAError
from isla_nnunet.io import load_case, load_mask
from isla_nnunet.prediction.pipeline import PredictionSettings, predict_case
from isla_nnunet.prediction.report import lesion_labels
from isla_nnunet.prediction.territories import (
    OUTSIDE,
    LabelTable,
    TerritoryAtlas,
    read_label_table,
    territory_report,
)
from isla_nnunet.preprocessing import extract_brain, reference_image, register_to_reference, resolve_method
from isla_nnunet.preprocessing.registration import Registration
from isla_nnunet.simulation import simulate_case
from isla_nnunet.simulation.dataset import write_native_case
from isla_nnunet.simulation.lesions import LesionSpec

from .helpers import BallModel, model_set


@pytest.fixture(scope="module")
def jhu(shared_data):
    folder = shared_data / "atlas_jhu"
    if not (folder / "ArterialAtlas_padding.nii.gz").is_file():
        pytest.skip(f"{folder} lacks the Johns Hopkins arterial atlas")
    return folder


@pytest.fixture(scope="module")
def arterial(jhu):
    return TerritoryAtlas.load(jhu / "ArterialAtlas_padding.nii.gz", jhu / "ArterialAtlasLables.txt")


def _hemispheres(shift_lps=(0.0, 0.0, 0.0), lateral_region=True) -> sitk.Image:
    """Atlas on the template grid: the template brain, 1 where LPS x > 0 (left), 2 elsewhere."""
    t1 = sitk.ReadImage(str(reference_image.template_folder() / reference_image.TEMPLATE_FILES["t1"]))
    brain = sitk.GetArrayFromImage(t1) / 255.0 > reference_image.BRAIN_THRESHOLD
    x = np.asarray([t1.TransformIndexToPhysicalPoint((i, 0, 0))[0] for i in range(t1.GetSize()[0])])
    labels = np.where(x[None, None, :] > 0, 1, 2) * brain if lateral_region else brain.astype(int)
    image = sitk.GetImageFromArray(labels.astype(np.uint8))
    image.CopyInformation(t1)
    image.SetOrigin((np.asarray(t1.GetOrigin()) + shift_lps).tolist())
    return image


def _write(image: sitk.Image, path) -> str:
    sitk.WriteImage(image, str(path))
    return str(path)


# --- label tables --------------------------------------------------------------------------------

def test_johns_hopkins_table_takes_names_not_its_faulty_short_labels(jhu):
    table = read_label_table(jhu / "ArterialAtlasLables.txt")
    assert len(table.names) == 32
    assert table.names[10] == "parietal pars of middle cerebral artery right"
    # Its Level1 column calls 10 "MCAPL" and its Level2 column calls 17 "PCAR"; the names say otherwise.
    assert {level: groups[10] for level, groups in table.groups.items()} == {
        "territory": "MCA", "major": "Anterior", "side": "right", "territory_side": "MCA right"}
    assert table.groups["territory_side"][17] == "PCA left" and table.groups["territory_side"][18] == "PCA right"
    assert table.groups["territory"][32] == "LV" and table.groups["major"][25] == "Posterior"


def test_value_name_rows_get_sides_from_their_names(jhu):
    table = read_label_table(jhu / "LobesLabelLookupTable.txt")
    assert len(table.names) == 31 and table.names[19] == "pons"
    assert table.groups["side"][1] == "left" and table.groups["side"][18] == "right" and 19 not in table.groups["side"]


def test_value_name_header_table_with_levels(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("value,name,lobe\n1,frontal left,frontal\n2,frontal right,frontal\n3,pons,brainstem\n")
    table = read_label_table(path)
    assert table.names == {1: "frontal left", 2: "frontal right", 3: "pons"}
    assert table.groups == {"lobe": {1: "frontal", 2: "frontal", 3: "brainstem"}, "side": {1: "left", 2: "right"}}
    assert LabelTable({1: "a"}).with_sides().groups == {}


@pytest.mark.parametrize("text, message", [
    ("", "names no regions"),
    ("1 frontal\n1 parietal\n", "named twice"),
    ("one frontal\n", "not a region value"),
    ("1\n", "expected 'value name'"),
])
def test_bad_label_tables_refused(tmp_path, text, message):
    path = tmp_path / "labels.txt"
    path.write_text(text)
    with pytest.raises(ISLAError, match=message):
        read_label_table(path)
    with pytest.raises(ISLAError, match="not found"):
        read_label_table(tmp_path / "missing.txt")


# --- atlas checks --------------------------------------------------------------------------------

def test_johns_hopkins_atlas_is_moved_onto_the_template(arterial):
    alignment = arterial.alignment
    # Its header puts it about 25 mm off the ICBM 2009 template (mostly up and back).
    assert alignment["shifted"] and 20 < np.linalg.norm(alignment["shift_lps_mm"]) < 30
    assert alignment["template_brain_dice"] < 0.8 and alignment["template_brain_dice_after_shift"] > 0.93
    assert arterial.image.GetPixelID() == sitk.sitkUInt16
    assert set(np.unique(sitk.GetArrayViewFromImage(arterial.image))) == set(range(33))


def test_an_atlas_on_the_template_is_used_as_it_is_and_a_shifted_one_is_moved_back(tmp_path):
    labels = tmp_path / "hemispheres.txt"
    labels.write_text("1 left\n2 right\n")
    aligned = TerritoryAtlas.load(_write(_hemispheres(), tmp_path / "a.nii.gz"), labels)
    assert not aligned.alignment["shifted"] and aligned.alignment["template_brain_dice"] == 1.0
    moved = TerritoryAtlas.load(_write(_hemispheres((12.0, -20.0, 8.0)), tmp_path / "b.nii.gz"), labels)
    np.testing.assert_allclose(moved.alignment["shift_lps_mm"], (-12.0, 20.0, -8.0), atol=0.05)


def test_bad_atlases_refused(tmp_path):
    labels = tmp_path / "hemispheres.txt"
    labels.write_text("1 left\n2 right\n")
    cube = sitk.Image([40, 40, 40], sitk.sitkUInt8) + 1
    with pytest.raises(ISLAError, match="does not lie on the MNI152 brain"):
        TerritoryAtlas.load(_write(cube, tmp_path / "cube.nii.gz"), labels)
    fractional = sitk.Cast(_hemispheres(), sitk.sitkFloat32) * 0.5
    with pytest.raises(ISLAError, match="non-integer"):
        TerritoryAtlas.load(_write(fractional, tmp_path / "p.nii.gz"), labels)
    only_one = tmp_path / "one.txt"
    only_one.write_text("1 left\n")
    with pytest.raises(ISLAError, match=r"regions \[2\] that .* does not name"):
        TerritoryAtlas.load(_write(_hemispheres(), tmp_path / "c.nii.gz"), only_one)
    with pytest.raises(ISLAError, match="not found"):
        TerritoryAtlas.load(tmp_path / "none.nii.gz", labels)


# --- volumes -------------------------------------------------------------------------------------

def test_volumes_counted_by_hand(tmp_path):
    """Identity registration, 2 mm native grid: lesion 1 (12 voxels) all left, lesion 2 (4) half-half."""
    labels = tmp_path / "hemispheres.txt"
    labels.write_text("1 left\n2 right\n")
    atlas = TerritoryAtlas.load(_write(_hemispheres(), tmp_path / "a.nii.gz"), labels)
    grid = sitk.Image([20, 10, 10], sitk.sitkUInt8)
    grid.SetSpacing([2.0] * 3)
    grid.SetOrigin([-19.0, -9.0, 10.0])  # voxel centres at LPS x = -19 .. 19: x index 10.. is left (x > 0)
    lesions = np.zeros((10, 10, 20), int)
    lesions[4:6, 4:6, 12:15] = 1   # 12 voxels, x > 0: left
    lesions[4:6, 0, 9:11] = 2      # 4 voxels, two each side of x = 0
    report = territory_report(lesions, grid, Registration(sitk.Euler3DTransform(), grid), atlas)
    voxel_ml = 0.008
    region = {row["name"]: row for row in report["levels"]["region"]}
    assert region["left"]["volume_ml"] == pytest.approx(14 * voxel_ml)
    assert region["right"]["volume_ml"] == pytest.approx(2 * voxel_ml)
    assert region["left"]["percent_of_lesion"] == pytest.approx(100 * 14 / 16)
    assert report["outside_atlas_ml"] == 0.0
    assert [(les["lesion"], les["region"], les["share"]) for les in report["lesions"]][0] == (1, "left", 1.0)
    assert report["lesions"][1]["share"] == 0.5
    assert report["levels"]["side"][0] == {**region["left"], "name": "left"}


# --- simulated lesions in known territories ------------------------------------------------------

@pytest.mark.parametrize("territory, side, expected", [("MCA", "right", "MCA right"), ("PCA", "left", "PCA left")])
def test_simulated_lesion_lands_in_its_territory(arterial, tmp_path, territory, side, expected):
    case = simulate_case(7, "isles22-like", lesion=LesionSpec("single", 15.0, side=side, territory=territory))
    files = write_native_case(case, tmp_path, "sim")
    native = load_case(files["dwi"], files["adc"])
    brain = extract_brain(native, resolve_method(native, str(files["brainmask"])))
    registration = register_to_reference(native, brain)
    mask = load_mask(files["msk"], native.dwi)
    report = territory_report(lesion_labels(mask), mask, registration, arterial)
    dominant = report["levels"]["territory_side"][0]
    assert dominant["name"] == expected and dominant["percent_of_lesion"] > 70
    assert report["lesions"][0]["territory_side"] == expected
    assert report["levels"]["side"][0]["name"] == side


def test_pipeline_and_cli_write_territories(native_case, arterial, jhu, tmp_path):
    lobes = TerritoryAtlas.load(jhu / "lobe_atlas_padding.nii.gz", jhu / "LobesLabelLookupTable.txt")
    spec = CaseSpec("sim5", str(native_case["dwi"]), adc=str(native_case["adc"]),
                    brain=str(native_case["brainmask"]), role="test")
    result = predict_case(spec, model_set(BallModel()), tmp_path / "out",
                          PredictionSettings(territory_atlases=(arterial, lobes)))
    report = json.loads((result.outdir / "report.json").read_text())
    arterial_report, lobe_report = report["territories"]
    # The stand-in's ball lies in the right deep white matter: MCA (lenticulostriate/frontal) territory.
    assert arterial_report["levels"]["territory_side"][0]["name"] == "MCA right"
    assert arterial_report["levels"]["side"][0]["name"] == "right"
    total = sum(row["volume_ml"] for row in arterial_report["levels"]["region"]) + arterial_report["outside_atlas_ml"]
    assert total == pytest.approx(report["lesion"]["total_volume_ml"])
    assert lobe_report["atlas"] == "lobe_atlas_padding"
    with (result.outdir / "lesions.csv").open() as table:
        rows = list(csv.DictReader(table))
    assert rows[0]["ArterialAtlas_padding_region"] == arterial_report["lesions"][0]["region"] != OUTSIDE
    assert float(rows[0]["lobe_atlas_padding_share"]) == pytest.approx(lobe_report["lesions"][0]["share"])


def test_cli_refuses_unpaired_atlas_options_before_loading_models(jhu, native_case, tmp_path, capsys):
    status = main(["predict", "--dwi", str(native_case["dwi"]), "--adc", str(native_case["adc"]),
                   "-o", str(tmp_path / "out"), "--territory-atlas", str(jhu / "ArterialAtlas_padding.nii.gz")])
    assert status == 2
    assert "1 --territory-atlas but 0 --territory-labels" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
