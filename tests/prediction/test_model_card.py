"""docs/model_card.md is the rendering of the shipped figures, and the renderer states goals honestly."""

from __future__ import annotations

import json
from pathlib import Path

from isla_nnunet.prediction.model_card import goal_text, render
from isla_nnunet.prediction.shipped import FIGURES_FILE, SHIPPED_ROOT

CARD = Path(__file__).resolve().parents[2] / "docs" / "model_card.md"


def test_card_is_rendered_from_the_shipped_figures():
    figures = json.loads((SHIPPED_ROOT / FIGURES_FILE).read_text())
    assert CARD.read_text() == render(figures)


def test_goal_text_says_met_or_missed():
    assert goal_text(0.8, ">=", 0.8) == "0.800 (goal >= 0.8: met)"
    assert goal_text(0.79, ">=", 0.8) == "0.790 (goal >= 0.8: missed)"
    assert goal_text(float("nan"), ">=", 0.5) == "n/a (goal >= 0.5: missed)"
    assert goal_text(2.0, "<=", 3.0) == "2.000 (goal <= 3: met)"


def test_card_lists_absent_real_cases_as_not_measured():
    figures = json.loads((SHIPPED_ROOT / FIGURES_FILE).read_text())
    text = render({**figures, "real": {}})
    assert "| ISLES'22 case 0009 | not measured (case absent) |" in text
    assert "ISLES'22 case 0009 lesion-f1" not in text
