"""The evaluation commands through ``isla_nnunet.cli.main`` on tiny datasets written to tmp_path."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from evaluation.helpers import volume

from isla_nnunet.cli import main

SHAPE = (2, 4, 4)
SPACING = (2.0, 1.0, 1.0)  # 2 mm^3 voxels


@pytest.fixture
def dataset(tmp_path, save_image):
    """ISLES'22 BIDS-named ground truth, nnU-Net-named predictions.

    case 0001: gt (0,1,1),(0,1,2); pred (0,1,1) -> DSC 2/3, AVD 0.002 ml, ALD 0, F1 1, precision 1,
               recall 0.5, HD95 0.95 mm (gt->pred distances [0, 1] mm, P95 = 0.95; pred->gt [0]).
    case 0002: both empty -> DSC 1, F1 1, HD95 0.
    case 0003: ground truth only (reported as skipped).
    """
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    masks = {
        "sub-strokecase0001": (volume(SHAPE, (0, 1, 1)), volume(SHAPE, (0, 1, 1), (0, 1, 2))),
        "sub-strokecase0002": (volume(SHAPE), volume(SHAPE)),
    }
    for case, (pred, gt) in masks.items():
        save_image(pred_dir / f"{case}.nii.gz", pred.astype(np.uint8), SPACING)
        save_image(gt_dir / f"{case}_ses-0001_msk.nii.gz", gt.astype(np.uint8), SPACING)
    save_image(gt_dir / "sub-strokecase0003_ses-0001_msk.nii.gz", volume(SHAPE, (1, 1, 1)).astype(np.uint8),
               SPACING)
    return pred_dir, gt_dir


def _rows(path):
    with open(path, newline="") as handle:
        return {row["case"]: row for row in csv.DictReader(handle)}


@pytest.mark.parametrize("workers", ["1", "2"])
def test_evaluate_command(dataset, tmp_path, capsys, workers):
    pred, gt = dataset
    out = tmp_path / "res" / "metrics.csv"
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "-o", str(out), "-j", workers,
                 "--no-progress"]) == 0
    rows = _rows(out)
    assert sorted(rows) == ["sub-strokecase0001", "sub-strokecase0002"]
    first = rows["sub-strokecase0001"]
    assert float(first["dice"]) == pytest.approx(2 / 3)
    assert float(first["avd_ml"]) == pytest.approx(0.002)
    assert float(first["ald"]) == 0 and float(first["lesion_f1"]) == 1
    assert float(first["hd95_mm"]) == pytest.approx(0.95)
    assert (float(first["precision"]), float(first["recall"])) == pytest.approx((1.0, 0.5))
    assert first["stratum"] == "<5 ml"
    second = rows["sub-strokecase0002"]
    assert (float(second["dice"]), float(second["lesion_f1"]), float(second["hd95_mm"])) == (1, 1, 0)
    with open(tmp_path / "res" / "metrics_summary.csv", newline="") as handle:
        summary = {(r["group"], r["metric"]): r for r in csv.DictReader(handle)}
    assert float(summary[("all", "dice")]["median"]) == pytest.approx((2 / 3 + 1) / 2)
    assert summary[(">=20 ml", "dice")]["n"] == "0"
    printed = capsys.readouterr().out
    assert "2 cases evaluated" in printed
    assert "1 ground-truth cases have no prediction" in printed
    assert "DSC" in printed and f"wrote {out}" in printed


def test_evaluate_single_files_without_output(dataset, capsys):
    pred, gt = dataset
    assert main(["evaluate", "--pred", str(pred / "sub-strokecase0001.nii.gz"),
                 "--gt", str(gt / "sub-strokecase0001_ses-0001_msk.nii.gz"), "--no-progress"]) == 0
    dice_line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("DSC"))
    assert dice_line.split()[1] == "0.667"


def test_evaluate_errors_are_one_line_with_status_2(tmp_path, save_image, capsys):
    save_image(tmp_path / "p" / "a.nii.gz", np.zeros(SHAPE, np.uint8))
    save_image(tmp_path / "g" / "b.nii.gz", np.zeros(SHAPE, np.uint8))
    save_image(tmp_path / "g" / "c.nii.gz", np.zeros(SHAPE, np.uint8))
    assert main(["evaluate", "--pred", str(tmp_path / "p"), "--gt", str(tmp_path / "g"), "-j", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("isla evaluate: error: no case id in common") and "\n" not in err
    assert main(["evaluate", "--pred", str(tmp_path / "p"), "--gt", str(tmp_path / "g"), "-j", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err


def test_evaluate_real_masks_against_themselves(shared_data, tmp_path):
    masks = shared_data / "isles22" / "masks_only"
    out = tmp_path / "m.csv"
    assert main(["evaluate", "--pred", str(masks), "--gt", str(masks), "-o", str(out), "-j", "1",
                 "--no-progress"]) == 0
    rows = _rows(out)
    assert sorted(rows) == ["38496fea-2c64-4afe-9c42-d4d527191040", "717ee719-0701-4fb3-9c69-52a7dbaa5e56",
                            "sub-strokecase0002", "sub-strokecase0003"]
    volumes = {case: float(row["gt_volume_ml"]) for case, row in rows.items()}
    assert volumes["sub-strokecase0002"] == pytest.approx(0.944)
    assert volumes["sub-strokecase0003"] == pytest.approx(30.984)
    assert {case: row["stratum"] for case, row in rows.items()} == {
        "38496fea-2c64-4afe-9c42-d4d527191040": "<5 ml", "717ee719-0701-4fb3-9c69-52a7dbaa5e56": "5-20 ml",
        "sub-strokecase0002": "<5 ml", "sub-strokecase0003": ">=20 ml"}
    assert all(float(row["dice"]) == 1 and float(row["hd95_mm"]) == 0 for row in rows.values())


def _metrics_csv(path, values):
    lines = ["case,dice,avd_ml,ald,lesion_f1,hd95_mm"]
    lines += [f"{case},{','.join(str(v) for v in row)}" for case, row in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_rank_command(tmp_path, capsys):
    # good beats poor on every metric of both cases: mean ranks 1 and 2.
    good = _metrics_csv(tmp_path / "good.csv", {"c1": (0.8, 1.0, 0, 1.0, 2.0),
                                                "c2": (0.6, 2.0, 1, 0.5, 4.0)})
    poor = _metrics_csv(tmp_path / "poor.csv", {"c1": (0.5, 3.0, 2, 0.5, 9.0),
                                                "c2": (0.4, 5.0, 3, 0.0, "nan")})
    out = tmp_path / "ranking.csv"
    assert main(["rank", str(poor), str(good), "-o", str(out), "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["model", "mean", "rank", "DSC", "AVD", "ALD", "F1", "HD95"]
    assert lines[1].split() == ["good", "1.00", "0.700", "(1.00)", "1.500", "(1.00)", "0.500", "(1.00)",
                                "0.750", "(1.00)", "3.000", "(1.00)"]
    assert lines[2].split()[:2] == ["poor", "2.00"]
    assert lines[2].split()[-2:] == ["9.000", "(2.00)"]  # median over defined HD95; NaN ranked last
    table = list(csv.DictReader(open(out)))
    assert [(r["position"], r["model"], float(r["mean_rank"])) for r in table] == [("1", "good", 1.0),
                                                                                   ("2", "poor", 2.0)]


def test_rank_command_with_prediction_folder(dataset, tmp_path, capsys):
    pred, gt = dataset
    perfect = _metrics_csv(tmp_path / "perfect.csv", {"sub-strokecase0001": (1, 0, 0, 1, 0),
                                                     "sub-strokecase0002": (1, 0, 0, 1, 0)})
    assert main(["rank", str(pred), str(perfect), "--gt", str(gt), "--names", "model", "oracle",
                 "-j", "1", "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # case 1: oracle better on DSC, AVD, HD95 and tied on ALD, F1; case 2: all tied.
    # ties share 1.5; oracle: DSC (1+1.5)/2, AVD 1.25, ALD 1.5, F1 1.5, HD95 1.25 -> 1.35;
    # model: DSC (2+1.5)/2, AVD 1.75, ALD 1.5, F1 1.5, HD95 1.75 -> 1.65 (sum 3 = 1 + 2)
    assert [line.split()[:2] for line in lines[1:3]] == [["oracle", "1.35"], ["model", "1.65"]]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["rank", "{tmp}/folder"], "pass --gt"),
        (["rank", "{tmp}/absent.csv"], "does not exist"),
        (["rank", "{tmp}/a.csv", "{tmp}/a.csv"], "one distinct name per run"),
    ],
)
def test_rank_command_errors(tmp_path, capsys, arguments, message):
    (tmp_path / "folder").mkdir()
    _metrics_csv(tmp_path / "a.csv", {"c": (1, 0, 0, 1, 0)})
    assert main([a.format(tmp=tmp_path) for a in arguments]) == 2
    assert message in capsys.readouterr().err


def test_select_ensemble_command(tmp_path, save_image, capsys):
    # Two models: A predicts the lesion (0.9) plus a false positive (0.6); B the lesion (0.9) only
    # -> B ranks first; Ensemble 1 (= B) is perfect, Ensemble 2 keeps A's FP at 0.3 -> also perfect:
    # tie, the smaller ensemble wins -> members [B].
    gt = volume(SHAPE, (0, 1, 1), (0, 1, 2))
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    for case in ("c1", "c2"):
        save_image(tmp_path / "gt" / f"{case}.nii.gz", gt.astype(np.uint8), SPACING)
        for name, false_positive in (("A", 0.6), ("B", 0.0)):
            p = np.where(gt, 0.9, 0.0).astype(np.float32)
            p[1, 3, 3] = false_positive
            np.savez(tmp_path / name / f"{case}.npz", probabilities=np.stack([1 - p, p]))
    out = tmp_path / "sel.json"
    assert main(["select-ensemble", str(tmp_path / "A"), str(tmp_path / "B"), "--gt", str(tmp_path / "gt"),
                 "-o", str(out), "-j", "1", "--no-progress"]) == 0
    saved = json.loads(out.read_text())
    assert saved["best_n"] == 1
    assert saved["predict_arguments"] == ["-m", str((tmp_path / "B").resolve())]
    printed = capsys.readouterr().out
    assert f"isla predict -m {(tmp_path / 'B').resolve()}" in printed


def test_error_maps_command(tmp_path, save_image, capsys):
    gt = volume(SHAPE, (0, 1, 1))
    save_image(tmp_path / "gt" / "c1.nii.gz", gt.astype(np.uint8), SPACING)
    save_image(tmp_path / "pred" / "c1.nii.gz", volume(SHAPE, (0, 1, 1), (0, 1, 3)).astype(np.uint8), SPACING)
    assert main(["error-maps", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"),
                 "-o", str(tmp_path / "maps"), "--fwhm", "0", "-j", "1", "--no-progress"]) == 0
    assert "error maps over 1 cases" in capsys.readouterr().out
    assert (tmp_path / "maps" / "error_maps.png").is_file()
    assert main(["error-maps", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"),
                 "-o", str(tmp_path / "maps"), "--fwhm", "-2"]) == 2
    assert "FWHM must be >= 0" in capsys.readouterr().err
