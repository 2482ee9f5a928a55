"""CSV round trips of per-case metrics, and the errors for malformed files."""

from __future__ import annotations

import math

import pytest

from isla_nnunet.errors import ISLAError
from isla_nnunet.evaluation.tables import CASE_COLUMNS, read_case_metrics, summary_path, write_case_metrics


def _row(case, dice, hd95):
    row = dict.fromkeys(CASE_COLUMNS, 0.0)
    row.update(case=case, dice=dice, hd95_mm=hd95, stratum="<5 ml")
    return row


def test_case_metrics_round_trip_keeps_exact_values_and_nan(tmp_path):
    third = 1 / 3
    path = write_case_metrics([_row("a", third, math.nan), _row("b", 1.0, 2.5)], tmp_path / "m.csv")
    text = path.read_text().splitlines()
    assert text[0].split(",")[:3] == ["case", "dice", "avd_ml"]
    assert text[2].startswith("b,1,")  # integral floats written without decimals
    table = read_case_metrics(path, ["dice", "hd95_mm"])
    assert table["a"]["dice"] == third  # exact: ties stay ties for ranking
    assert math.isnan(table["a"]["hd95_mm"])
    assert table["b"] == {"dice": 1.0, "hd95_mm": 2.5}


def test_summary_path():
    assert summary_path("/x/metrics.csv").as_posix() == "/x/metrics_summary.csv"


@pytest.mark.parametrize(
    "content, message",
    [
        ("case,dice\na,1\n", "lacks the column"),
        ("case,dice,avd_ml,ald,lesion_f1,hd95_mm\na,1,0,0,1,0\na,1,0,0,1,0\n", "appears twice"),
        ("case,dice,avd_ml,ald,lesion_f1,hd95_mm\na,x,0,0,1,0\n", "non-numeric"),
        ("case,dice,avd_ml,ald,lesion_f1,hd95_mm\n", "no cases"),
    ],
)
def test_read_case_metrics_errors(tmp_path, content, message):
    path = tmp_path / "m.csv"
    path.write_text(content)
    with pytest.raises(ISLAError, match=message):
        read_case_metrics(path)


def test_read_case_metrics_missing_file(tmp_path):
    with pytest.raises(ISLAError, match="does not exist"):
        read_case_metrics(tmp_path / "absent.csv")
