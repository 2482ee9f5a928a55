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
    # A card measured without ../shared/data has no real case in either pass.
    text = render({**figures, "real": {}, "adc_check": {**figures["adc_check"], "real": {}}})
    assert text.count("| ISLES'22 case 0009 | not measured (case absent) |") == 2
    assert "ISLES'22 case 0009 lesion-f1" not in text


def test_card_derives_false_and_missed_volume_from_precision_and_recall():
    figures = json.loads((SHIPPED_ROOT / FIGURES_FILE).read_text())
    row = {"dice": 0.4, "lesion_f1": 0.5, "avd_ml": 2.0, "hd95_mm": 9.0, "precision": 0.5, "recall": 0.25,
           "gt_volume_ml": 8.0, "pred_volume_ml": 10.0, "gt_lesions": 2, "pred_lesions": 3}
    text = render({**figures, "real": {"soop_sub-3": row}})
    # 10 ml at precision 0.5 -> 5 ml false; 8 ml at recall 0.25 -> 6 ml missed.
    assert ("- SOOP sub-3: 5.0 ml of the 10.0 ml predicted lies outside the expert mask (precision 0.500) "
            "and 6.0 ml of its 8.0 ml is missed (recall 0.250).") in text
    assert "| SOOP sub-3 | 0.400 | 0.500 | 2.00 | 9.0 | 8.00, 2 | 10.00, 3 |" in text


def test_card_gives_the_adc_checked_figures_and_goals_beside_the_plain_ones():
    figures = json.loads((SHIPPED_ROOT / FIGURES_FILE).read_text())
    row = {"dice": 0.4, "lesion_f1": 0.55, "avd_ml": 2.0, "hd95_mm": 9.0, "precision": 0.5, "recall": 0.25,
           "gt_volume_ml": 8.0, "pred_volume_ml": 10.0, "gt_lesions": 2, "pred_lesions": 3}
    domain = {"cases": 4, "median_dice": 0.81, "median_lesion_f1": 1.0, "median_avd_ml": 0.5, "median_hd95_mm": 2.0}
    plain = {"isles22_0009": {**row, "lesion_f1": 0.3}}
    text = render({**figures, "real": plain, "simulated": {"randomised": {**domain, "median_dice": 0.7}},
                   "adc_check": {"real": {"isles22_0009": row}, "simulated": {"randomised": domain}}})
    plain_part, checked_part = text.split("## With `isla predict --adc-check`")
    assert "ISLES'22 case 0009 lesion-f1: 0.300 (goal >= 0.5: missed)" in plain_part
    assert "simulated randomised held-out median Dice: 0.700 (goal >= 0.8: missed)" in plain_part
    assert "ISLES'22 case 0009 lesion-f1: 0.550 (goal >= 0.5: met)" in checked_part
    assert "simulated randomised held-out median Dice: 0.810 (goal >= 0.8: met)" in checked_part
    assert "| randomised | 4 | 0.810 | 1.000 | 0.50 | 2.0 |" in checked_part
    assert "## With" not in render({k: v for k, v in figures.items() if k != "adc_check"})


def test_card_names_every_training_domain_and_its_limits():
    figures = json.loads((SHIPPED_ROOT / FIGURES_FILE).read_text())
    training = {**{k: v for k, v in figures["training"].items()
                   if k not in ("domain", "domain_description", "pretrained", "code_commit")}, "seed": 0}
    domains = [{"name": "source", "description": "clean"}, {"name": "randomised", "description": "every look"}]
    text = render({**figures, "training": {**training, "domains": domains}})
    assert "domains taken in turn: `source`: clean; `randomised`: every look)." in text
    assert "covers noise, bias, contrast, thick slices, skull remnants and hyperintense mimics" in text
    single = render({**figures, "training": {**training, "domains": domains[:1]}})
    assert "seed 0; domain `source`: clean)." in single and "trained on one simulated look" in single


def _stage(trainer, epochs, steps_per_epoch, rate, domains, command):
    return {"trainer": trainer, "epochs": epochs, "steps_per_epoch": steps_per_epoch, "batch": 2,
            "steps": epochs * steps_per_epoch, "cases_seen": 2 * epochs * steps_per_epoch,
            "distinct_training_cases": 2 * steps_per_epoch, "wall_s": 3600.0, "cpu_s": 7200.0, "seed": 0,
            "learning_rate": rate, "domains": domains, "command": command}


def test_card_of_a_fine_tuned_model_lists_both_stages_in_order():
    figures = json.loads((SHIPPED_ROOT / FIGURES_FILE).read_text())
    base = _stage("ISLATrainer_B_CPU_10epochs", 10, 80, [2e-3, 2e-5],
                  [{"name": "source", "description": "clean"}], "python scripts/train_isla_b.py --workdir RUN")
    tuned = _stage("ISLATrainer_B_CPUFineTune_5epochs", 5, 80, [2e-4, 2e-6],
                   [{"name": "source", "description": "clean"}, {"name": "randomised", "description": "every look"}],
                   "python scripts/train_isla_b.py --workdir FINETUNE_RUN --pretrained RUN/results/*/M")
    text = render({**figures, "training": {**tuned, "pretrained": base}})
    assert ("  1. `ISLATrainer_B_CPU_10epochs`: 10 one-pass epochs of 80 steps at batch 2 (800 steps, 1600 cases "
            "seen, 160 distinct), learning rate 2e-3 -> 2e-5; 1.00 h wall, 2.00 h CPU on") in text
    assert ("  2. `ISLATrainer_B_CPUFineTune_5epochs`: 5 one-pass epochs of 80 steps at batch 2 (400 steps, 800 "
            "cases seen, 160 distinct), learning rate 2e-4 -> 2e-6;") in text
    assert "starting from stage 1's weights." in text
    assert "  1. seed 0; domain `source`: clean." in text
    assert "  2. seed 0; domains taken in turn: `source`: clean; `randomised`: every look." in text
    assert text.index("--workdir RUN`") < text.index("--workdir FINETUNE_RUN --pretrained RUN/results/*/M`")
    # Any stage on randomised data gives the card the randomised simulation's limits.
    assert "covers noise, bias, contrast, thick slices, skull remnants and hyperintense mimics" in text


def test_card_of_a_single_stage_names_its_learning_rate():
    figures = json.loads((SHIPPED_ROOT / FIGURES_FILE).read_text())
    stage = _stage("ISLATrainer_B_CPU_10epochs", 10, 80, [5e-4, 5e-6],
                   [{"name": "source", "description": "clean"}], "python scripts/train_isla_b.py --workdir RUN")
    text = render({**figures, "training": stage})
    assert "(800 steps, 1600 cases seen, 160 distinct), learning rate 5e-4 -> 5e-6; 1.00 h wall" in text
    assert "Trained in stages" not in text and "- Reproduce: `python scripts/train_isla_b.py --workdir RUN`." in text
    assert "commit" not in text.split("## Training data")[1].split("## Intended use")[0]
    committed = render({**figures, "training": {**stage, "code_commit": "0123abcd"}})
    assert "`source`: clean; simulated by the code of commit `0123abcd`)." in committed


def test_the_card_script_chains_each_stages_run_folder_and_fills_in_learning_rates():
    import runpy

    renumbered = runpy.run_path(str(CARD.parents[1] / "scripts" / "model_card.py"))["renumbered"]
    script = "python scripts/train_isla_b.py"
    first = {"trainer": "ISLATrainer_B_CPU_10epochs", "command": f"{script} --workdir RUN --epochs 10"}
    second = {"trainer": "ISLATrainer_B_CPUFineTune_5epochs", "pretrained": first,
              "command": f"{script} --workdir FINETUNE_RUN --epochs 5 --pretrained RUN/results/*/M"}
    third = {"trainer": "ISLATrainer_B_CPUFineTune_5epochs", "pretrained": second, "learning_rate": [1e-4, 1e-6],
             "command": "python scripts/train_isla_b.py --workdir RUN --seed 1 --pretrained X"}
    chain = renumbered(third)
    assert chain["command"] == ("python scripts/train_isla_b.py --workdir RUN3 --seed 1 --pretrained "
                                "RUN2/results/*/ISLATrainer_B_CPUFineTune_5epochs__ISLAPlans__3d_fullres")
    assert chain["pretrained"]["command"] == ("python scripts/train_isla_b.py --workdir RUN2 --epochs 5 --pretrained "
                                              "RUN1/results/*/ISLATrainer_B_CPU_10epochs__ISLAPlans__3d_fullres")
    assert chain["pretrained"]["pretrained"]["command"] == "python scripts/train_isla_b.py --workdir RUN1 --epochs 10"
    # Kept where recorded, else the trainer class's.
    assert chain["learning_rate"] == [1e-4, 1e-6]
    assert chain["pretrained"]["learning_rate"] == [2e-4, 2e-6]
    assert chain["pretrained"]["pretrained"]["learning_rate"] == [2e-3, 2e-5]


def test_card_splits_the_errors_by_region_when_measured():
    figures = json.loads((SHIPPED_ROOT / FIGURES_FILE).read_text())
    row = {"dice": 0.4, "lesion_f1": 0.5, "avd_ml": 2.0, "hd95_mm": 9.0, "precision": 0.5, "recall": 0.25,
           "gt_volume_ml": 8.0, "pred_volume_ml": 10.0, "gt_lesions": 2, "pred_lesions": 3,
           "fp_posterior_fossa_ml": 3.0, "fp_elsewhere_ml": 2.0, "fn_posterior_fossa_ml": 6.0, "fn_elsewhere_ml": 0.0}
    text = render({**figures, "real": {"soop_sub-3": row}})
    assert ("(recall 0.250). By region (error_regions.py): false positives 3.0 ml in the posterior fossa "
            "(cerebellum, brainstem) and 2.0 ml above the tentorium; missed 6.0 ml and 0.0 ml.") in text


def test_card_names_the_commit_that_predicted_when_recorded():
    figures = json.loads((SHIPPED_ROOT / FIGURES_FILE).read_text())
    recorded = render({**figures, "prediction_commit": "0123456789ab"})
    assert "--seed 7919` at commit `0123456789ab` (ISLES'22 metrics" in recorded
    unrecorded = render({k: v for k, v in figures.items() if k != "prediction_commit"})
    assert "at commit" not in unrecorded.split("## Measured figures")[1].split("\n")[1]
