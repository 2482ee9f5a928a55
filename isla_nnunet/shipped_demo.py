"""``isla demo``: the shipped model on a simulated scan in its scanner's space, and on a real one.

The demo does what a user does with a fresh installation: ``isla predict`` without ``-m`` (the model in
the package, :mod:`isla_nnunet.prediction.shipped`) on native DWI/ADC files. It simulates one case on a
native grid (a 20 ml infarct in the simulator's ``source`` domain, the one the model was trained on),
predicts it and scores the mask against the simulated truth; when the real cases of ``--data`` are
there it does the same for SOOP sub-3 against its expert mask. Each prediction is skipped when its report exists
and names the same weights, so a second run predicts nothing again, and a run after the shipped model
changed predicts everything again. The training walkthrough (simulate, plan, train, ensemble) is ``isla demo
--train`` (:mod:`isla_nnunet.demo`).

Example (about 20 s on a 2-core CPU, docs/benchmarks.md "The demo")::

    isla demo --workdir isla_demo
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Where a development checkout finds the real cases: ../shared/data beside the repository.
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SIMULATED_DOMAIN = "source"
# One mid-sized infarct: a case the model's card says it handles (docs/model_card.md lists the harder ones).
SIMULATED_LESION = {"pattern": "single", "volume_ml": 20.0}
REAL_CASE = "soop_sub-3"


@dataclass(frozen=True)
class DemoCase:
    """One predicted demo case: where its outputs are and how the mask scores against the truth."""

    name: str
    outdir: Path
    summary: str
    scores: dict[str, float]
    seconds: float

    def lines(self) -> list[str]:
        s = self.scores
        return [self.summary,
                f"  against the {self.name} truth: Dice {s['dice']:.3f}, lesion-wise F1 {s['lesion_f1']:.3f}, "
                f"{s['pred_volume_ml']:.1f} ml predicted for {s['gt_volume_ml']:.1f} ml "
                f"({int(s['pred_lesions'])} lesion{'' if int(s['pred_lesions']) == 1 else 's'} "
                f"for {int(s['gt_lesions'])})",
                f"  report: {self.outdir / 'report.json'}   picture: {self.outdir / 'qc.png'}"]


def run_shipped_demo(workdir: str | os.PathLike, data: str | os.PathLike | None = None, seed: int = 0,
                     device: str = "cpu", echo: Callable[[str], None] = print) -> list[DemoCase]:
    """Predict the demo cases in ``workdir`` with the shipped model; return them scored.

    Args:
        workdir: working folder (created); holds the simulated scan and one output folder per case.
        data: folder with the real cases (``../shared/data`` layout); None or a folder without SOOP
            sub-3 runs the simulated case only.
        seed: simulation seed of the native case.
        device: "cpu", "cuda" or "auto".

    Raises:
        ISLAError: the shipped model is missing (an installation without package data).
    """
    from isla_nnunet.prediction.model_card import REAL_CASE_FILES
    from isla_nnunet.prediction.models import ModelSet
    from isla_nnunet.prediction.shipped import shipped_model_folder
    from isla_nnunet.simulation import simulate_case, write_native_case

    root = Path(workdir)
    scans = root / f"simulated_{SIMULATED_DOMAIN}_seed{seed}"
    if not (scans / "case_0000.json").exists():
        echo(f"simulating a {SIMULATED_DOMAIN}-domain scan with a {SIMULATED_LESION['volume_ml']:g} ml "
             f"{SIMULATED_LESION['pattern']} infarct on its native grid in {scans}")
        write_native_case(simulate_case(seed, SIMULATED_DOMAIN, **SIMULATED_LESION), scans, "case_0000",
                          overwrite=True)
    cases = [("simulated", scans / "case_0000_dwi.nii.gz", scans / "case_0000_adc.nii.gz",
              scans / "case_0000_msk.nii.gz", root / f"prediction_simulated_seed{seed}")]
    dwi, adc, mask = (Path(data or ".") / name for name in REAL_CASE_FILES[REAL_CASE])
    if data is not None and dwi.exists():
        cases.append((REAL_CASE, dwi, adc, mask, root / f"prediction_{REAL_CASE}"))
    else:
        echo(f"real case skipped: {dwi} not found (give --data)")

    folder = shipped_model_folder()
    echo(f"model: {folder.name} (shipped; trained on simulated cases only, see docs/model_card.md)")
    with ModelSet.load([folder], device=device) as models:
        return [predict_and_score(models, *case, echo=echo) for case in cases]


def predict_and_score(models, name: str, dwi: Path, adc: Path, truth: Path, outdir: Path,
                      echo: Callable[[str], None] = print, adc_check: bool = False) -> DemoCase:
    """``isla predict``'s pipeline on one case, with ``--adc-check`` when ``adc_check`` (skipped when
    ``outdir`` holds the report of these ``models``' weights and settings), scored against ``truth`` with
    ``isla evaluate``'s metrics."""
    from isla_nnunet.conversion import CaseSpec
    from isla_nnunet.prediction.pipeline import PredictionSettings, predict_case
    from isla_nnunet.prediction.report import predicted_by

    if not predicted_by(outdir / "report.json", models, adc_check=adc_check):
        echo(f"isla predict on the {name} scan ...")
        # predict_case publishes outdir only when complete; overwrite lets a rerun replace a leftover empty one.
        predict_case(CaseSpec(name, os.fspath(dwi), adc=os.fspath(adc), role="test"), models, outdir,
                     PredictionSettings(overwrite=True, adc_check=adc_check))
    return _scored(name, outdir, truth)


def _scored(name: str, outdir: Path, mask: Path) -> DemoCase:
    from isla_nnunet.evaluation import evaluate_files
    from isla_nnunet.prediction.report import summary_line

    report = json.loads((outdir / "report.json").read_text(encoding="utf-8"))
    summary = summary_line(report["case_id"], report["lesion"], report["brain"]["volume_ml"],
                           len(report["models"]), report["ensemble"]["method"], report["timings_s"]["total"],
                           outdir, shipped=report["models"][0].get("shipped", False))
    scores = evaluate_files(outdir / "lesion_mask.nii.gz", mask)
    return DemoCase(name, outdir, summary, {k: float(v) for k, v in scores.items() if not isinstance(v, str)},
                    float(report["timings_s"]["total"]))
