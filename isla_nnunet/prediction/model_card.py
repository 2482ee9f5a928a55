"""The shipped model's card, rendered from the figures ``scripts/model_card.py`` measured.

Every number in ``docs/model_card.md`` comes from ``isla_nnunet/shipped_model/figures.json``; nothing is
typed by hand, and a test re-renders the card and compares.

Example:
    >>> goal_text(0.62, ">=", 0.6)
    '0.620 (goal >= 0.6: met)'
"""

from __future__ import annotations

import math

TITLE = "# Model card: the shipped ISLA-B model"
REAL_CASES = {"isles22_0009": "ISLES'22 case 0009", "soop_sub-3": "SOOP sub-3"}
# DWI, ADC and expert mask of each, relative to the real-data folder (../shared/data beside a checkout).
REAL_CASE_FILES = {
    "isles22_0009": ("isles22/sub-strokecase0009/sub-strokecase0009_ses-0001_dwi.nii.gz",
                     "isles22/sub-strokecase0009/sub-strokecase0009_ses-0001_adc.nii.gz",
                     "isles22/sub-strokecase0009/sub-strokecase0009_ses-0001_msk.nii.gz"),
    "soop_sub-3": ("soop/sub-3/sub-3_rec-TRACE_dwi.nii.gz", "soop/sub-3/sub-3_rec-ADC_dwi.nii.gz",
                   "soop/sub-3/sub-3_space-TRACE_desc-lesionAcute_mask.nii.gz"),
}
GOALS = {"soop_sub-3": ("dice", 0.6), "isles22_0009": ("lesion_f1", 0.5)}
SIMULATED_GOAL = ("median_dice", 0.8)


def _number(value, digits: int = 3) -> str:
    value = float(value)
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def goal_text(value: float, relation: str, goal: float) -> str:
    met = value >= goal if relation == ">=" else value <= goal
    return f"{_number(value)} (goal {relation} {goal:g}: {'met' if met else 'missed'})"


def _real_table(real: dict) -> list[str]:
    lines = ["| case | Dice | lesion-wise F1 | AVD (ml) | HD95 (mm) | truth (ml, lesions) | predicted (ml, lesions) |",
             "|---|---|---|---|---|---|---|"]
    for key, label in REAL_CASES.items():
        if key not in real:
            lines.append(f"| {label} | not measured (case absent) | | | | | |")
            continue
        r = real[key]
        lines.append(f"| {label} | {_number(r['dice'])} | {_number(r['lesion_f1'])} | {_number(r['avd_ml'], 2)} | "
                     f"{_number(r['hd95_mm'], 1)} | {_number(r['gt_volume_ml'], 2)}, {int(float(r['gt_lesions']))} | "
                     f"{_number(r['pred_volume_ml'], 2)}, {int(float(r['pred_lesions']))} |")
    return lines


def _errors(real: dict) -> list[str]:
    """False-positive and missed volume of each real case, from its precision and recall, and by region where
    the figures hold :func:`~isla_nnunet.prediction.error_regions.errors_by_region`'s split."""
    lines = []
    for key, label in REAL_CASES.items():
        if key not in real:
            continue
        r = {k: float(v) for k, v in real[key].items() if k not in ("case", "stratum")}
        false_ml = r["pred_volume_ml"] * (1 - r["precision"])
        missed_ml = r["gt_volume_ml"] * (1 - r["recall"])
        where = ""
        if "fp_posterior_fossa_ml" in r:
            where = (f" By region (error_regions.py): false positives {r['fp_posterior_fossa_ml']:.1f} ml in the "
                     f"posterior fossa (cerebellum, brainstem) and {r['fp_elsewhere_ml']:.1f} ml above the tentorium; "
                     f"missed {r['fn_posterior_fossa_ml']:.1f} ml and {r['fn_elsewhere_ml']:.1f} ml.")
        lines.append(f"- {label}: {false_ml:.1f} ml of the {r['pred_volume_ml']:.1f} ml predicted lies outside the "
                     f"expert mask (precision {r['precision']:.3f}) and {missed_ml:.1f} ml of its "
                     f"{r['gt_volume_ml']:.1f} ml is missed (recall {r['recall']:.3f}).{where}")
    return lines


def _simulated_table(simulated: dict) -> list[str]:
    lines = ["| domain | cases | median Dice | median lesion-wise F1 | median AVD (ml) | median HD95 (mm) |",
             "|---|---|---|---|---|---|"]
    for domain, s in simulated.items():
        lines.append(f"| {domain} | {s['cases']} | {_number(s['median_dice'])} | {_number(s['median_lesion_f1'])} | "
                     f"{_number(s['median_avd_ml'], 2)} | {_number(s['median_hd95_mm'], 1)} |")
    return lines


def _goals(figures: dict) -> list[str]:
    """One line per goal, from ``figures``' ``real`` and ``simulated`` entries."""
    lines = []
    for key, (metric, goal) in GOALS.items():
        if key in figures["real"]:
            lines.append(f"- {REAL_CASES[key]} {metric.replace('_', '-')}: "
                         f"{goal_text(float(figures['real'][key][metric]), '>=', goal)}")
    metric, goal = SIMULATED_GOAL
    for domain, s in figures["simulated"].items():
        lines.append(f"- simulated {domain} held-out median Dice: {goal_text(float(s[metric]), '>=', goal)}")
    return lines


def _adc_check_section(checked: dict) -> list[str]:
    """The same cases predicted with ``isla predict --adc-check`` (figures' ``adc_check`` entry)."""
    return [
        "## With `isla predict --adc-check`",
        "The ADC check (off by default, as in ISLA) removes predicted lesions whose median ADC is not below "
        "the median ADC of the case's normal-appearing parenchyma (no restricted diffusion: T2 shine-through, "
        "susceptibility artefacts, old infarcts); see docs/predict.md. The same cases and model:",
        "",
        *_real_table(checked["real"]),
        "",
        *_errors(checked["real"]),
        "",
        *_simulated_table(checked["simulated"]),
        "",
        "Goals with the check:",
        "",
        *_goals(checked),
        "",
    ]


def training_domains(training: dict) -> list[dict]:
    """``[{"name", "description"}, ...]`` of the training data; cards before mixed domains name one."""
    if "domains" in training:
        return training["domains"]
    return [{"name": training["domain"], "description": training["domain_description"]}]


def training_stages(training: dict) -> list[dict]:
    """The training runs that made the model, first first: a fine-tuned run names its start in ``pretrained``."""
    stages = [training]
    while isinstance(stages[0].get("pretrained"), dict):
        stages.insert(0, stages[0]["pretrained"])
    return stages


def _rate(value: float) -> str:
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _stage_text(stage: dict, machine: str) -> str:
    rate = stage.get("learning_rate")
    return (f"`{stage['trainer']}`: {stage['epochs']} one-pass epochs of {stage['steps_per_epoch']} steps at batch "
            f"{stage['batch']} ({stage['steps']} steps, {stage['cases_seen']} cases seen, "
            f"{stage['distinct_training_cases']} distinct)"
            + (f", learning rate {_rate(rate[0])} -> {_rate(rate[1])}" if rate else "")
            + f"; {stage['wall_s'] / 3600:.2f} h wall, {stage['cpu_s'] / 3600:.2f} h CPU on {machine}")


def _domains_text(domains: list[dict]) -> str:
    return (("domains taken in turn: " if len(domains) > 1 else "domain ")
            + "; ".join(f"`{d['name']}`: {d['description']}" for d in domains))


def _training_lines(training: dict, machine: str) -> list[str]:
    """The trainer bullet of "What it is" and the "Training data" section, one line per stage."""
    stages = training_stages(training)
    if len(stages) == 1:
        return [f"- Trainer {_stage_text(training, machine)}. ISLA-B's recipe (Adam, ISLA's augmentation, "
                "linear decay).",
                "", "## Training data",
                f"- Simulated cases only (`isla_nnunet.simulation`, seed {training['seed']}; "
                f"{_domains_text(training_domains(training))}"
                + (f"; simulated by the code of commit `{training['code_commit']}`" if training.get("code_commit")
                   else "")
                + "). No real scan was used for training or for choosing settings.",
                "- Reproduce: `" + training["command"] + "`."]
    trainers = [f"  {k}. {_stage_text(stage, machine)}" + (", starting from stage "
                f"{k - 1}'s weights" if k > 1 else "") + "."
                for k, stage in enumerate(stages, start=1)]
    data = [f"  {k}. seed {stage['seed']}; {_domains_text(training_domains(stage))}"
            + (f"; simulated by the code of commit `{stage['code_commit']}`" if stage.get("code_commit") else "")
            + "." for k, stage in enumerate(stages, start=1)]
    commands = [f"  {k}. `{stage['command']}`" for k, stage in enumerate(stages, start=1)]
    return ["- Trained in stages, each ISLA-B's recipe (Adam, ISLA's augmentation, linear decay):", *trainers,
            "", "## Training data",
            "- Simulated cases only (`isla_nnunet.simulation`). No real scan was used for training or for "
            "choosing settings. Each stage's data:", *data,
            "- Reproduce, stage by stage:", *commands]


def _known_limits(domains: list[dict]) -> str:
    if any(d["name"] == "randomised" for d in domains):
        return ("- Known limits: the randomised simulation covers noise, bias, contrast, thick slices, skull "
                "remnants and hyperintense mimics only as far as the simulator models them; real scans outside "
                "that range (other artefacts, other pathology, other sequences) can still give false positives "
                "or missed lesions; check `qc.png` of every case.")
    return ("- Known limits: trained on one simulated look (skull-stripped, clean, b1000), so scans that "
            "differ (noise, bias, skull, thick slices, artefacts, chronic infarcts) can give false positives; "
            "check `qc.png` of every case.")


def render(figures: dict) -> str:
    """The card's Markdown text for ``figures`` (the content of ``figures.json``)."""
    model, training = figures["model"], figures["training"]
    domains = [d for stage in training_stages(training) for d in training_domains(stage)]
    lines = [
        TITLE,
        "",
        "*Generated by `scripts/model_card.py` from `isla_nnunet/shipped_model/figures.json`; do not edit by "
        "hand.*",
        "",
        "## What it is",
        f"- Folder `{model['folder']}` inside the package (`isla_nnunet/shipped_model/`), an nnU-Net v2 "
        "trained-model folder with one fold; `isla predict` uses it when no `-m` is given, and "
        "`nnUNetv2_predict_from_modelfolder -m` loads it too (after `eval \"$(isla env)\"`).",
        f"- Architecture: ISLA-B (Roca et al.): StdUNet with deep supervision, SE blocks and additive "
        f"attention gates, Unified Focal loss; {model['parameters']:,} parameters, stored in float16 "
        f"({model['size_mb']:.1f} MB), sha256 `{model['sha256'][:16]}...`.",
        *_training_lines(training, figures["machine"]),
        "",
        "## Intended use",
        "- Research on acute ischaemic stroke DWI/ADC: a starting point, a baseline, a model to fine-tune "
        "(or to adapt with `ISLATrainer_MT`). **Not for clinical decisions.**",
        "- Inputs: trace DWI (b ~1000) and ADC of adult brains; `isla predict` registers them to ISLA's "
        "reference grid and maps the mask back to the DWI's grid.",
        _known_limits(domains),
        "",
        "## Measured figures",
        f"Measured on {figures['date']} on {figures['machine']} with `{figures['command']}` "
        + (f"at commit `{figures['prediction_commit']}` " if figures.get("prediction_commit") else "")
        + "(ISLES'22 metrics, `isla evaluate`; predictions through `isla predict`, native space).",
        "",
        "Real cases (`../shared/data`):",
        "",
        *_real_table(figures["real"]),
        "",
        "Where the errors are:",
        "",
        *_errors(figures["real"]),
        "",
        f"Simulated held-out cases on each domain's native grid (seed {figures['simulated_seed']}, not used "
        "in training):",
        "",
        *_simulated_table(figures["simulated"]),
        "",
        *([f"The training run's own held-out test set ({figures['test']['cases']} `source` cases on the reference "
           f"grid, `nnUNetv2_predict`): median Dice {_number(figures['test']['median_dice'])}, median "
           f"lesion-wise F1 {_number(figures['test']['median_lesion_f1'])}.", ""] if figures.get("test") else []),
        "Goals:",
        "",
        *_goals(figures),
        "",
        *(_adc_check_section(figures["adc_check"]) if "adc_check" in figures else []),
    ]
    return "\n".join(lines)
