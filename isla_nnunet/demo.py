"""The training walkthrough (``isla demo --train``): simulate cases, plan, train two ISLA models, ensemble.

Everything runs through the commands a user types (``isla simulate``, ``isla plan``,
``nnUNetv2_train``, ``nnUNetv2_predict``, ``nnUNetv2_ensemble``, ``isla evaluate``, and finally
``isla predict`` on a simulated scan in its scanner's space) inside one working
folder, so the demo is also a worked example of the workflow. Training is deliberately short (a few
epochs on a 2-core CPU): the point is that every step runs and its outputs are real, not that the
models are good. Each step is skipped when its output already exists, so an interrupted demo resumes.

Example (about six minutes on a 2-core CPU)::

    isla demo --train --workdir isla_demo
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from isla_nnunet.errors import ISLAError
from isla_nnunet.io.checkpoints import FINAL_CHECKPOINT
from isla_nnunet.nnunet import commands as nnunet_cli
from isla_nnunet.nnunet.isla_plans import CONFIGURATION, PLANS_NAME

# Small filters and a batch of 2 keep a CPU training step to a few seconds (docs/benchmarks.md).
DEMO_FEATURES = (8, 8, 16, 16, 32, 32)
DEMO_GPU_MEMORY_TARGET_GB = 2.0
DEMO_TRAINERS = ("ISLATrainer_B", "ISLATrainer_GDLBCE_Std_DS_NoAtt")
DEMO_EPOCH_CHOICES = (1, 2, 5)


@dataclass(frozen=True)
class DemoSettings:
    """What the demo builds; the defaults take a few minutes on a 2-core CPU."""

    workdir: Path = Path("isla_demo")
    dataset_id: int = 990
    n_train: int = 10
    n_test: int = 4
    seed: int = 0
    epochs: int = 5
    trainers: Sequence[str] = DEMO_TRAINERS
    fold: int = 0
    device: str = "cpu"
    features: Sequence[int] = field(default=DEMO_FEATURES)

    def __post_init__(self):
        if self.epochs not in DEMO_EPOCH_CHOICES:
            raise ISLAError(f"--epochs must be one of {DEMO_EPOCH_CHOICES} (the short-run trainers), "
                            f"got {self.epochs}")
        if self.n_train < 6 or self.n_test < 1:
            raise ISLAError("the demo needs at least 6 training cases (5-fold split) and 1 test case")

    def trainer(self, base: str) -> str:
        return f"{base}_{self.epochs}epoch{'s' if self.epochs > 1 else ''}"


@dataclass
class DemoResult:
    dataset_folder: Path
    ensemble_folder: Path
    metrics_csv: Path
    summary: str
    seconds: dict[str, float]


class _Steps:
    def __init__(self, settings: DemoSettings, echo: Callable[[str], None]):
        self.settings = settings
        self.echo = echo
        self.root = Path(settings.workdir).resolve()
        self.env = nnunet_cli.nnunet_environment(self.root)
        self.log = self.root / "demo.log"
        self.seconds: dict[str, float] = {}

    def timed(self, name: str, action: Callable[[], None], done: bool) -> None:
        if done:
            self.echo(f"[{name}] already done, skipped")
            return
        self.echo(f"[{name}] ...")
        start = time.perf_counter()
        action()
        self.seconds[name] = time.perf_counter() - start
        self.echo(f"[{name}] done in {self.seconds[name]:.0f} s")

    def command(self, *argv) -> None:
        nnunet_cli.run(argv, self.env, self.log, echo=self._progress)

    def _progress(self, line: str) -> None:
        # nnU-Net prints a lot; the epoch summaries are what a person watching wants to see.
        if any(key in line for key in ("Epoch ", "train_loss", "Pseudo dice", "Mean Validation Dice")):
            self.echo("    " + line.split(": ", 1)[-1])


def dataset_name(settings: DemoSettings) -> str:
    return f"Dataset{settings.dataset_id:03d}_ISLADemo"


def run_demo(settings: DemoSettings = DemoSettings(), echo: Callable[[str], None] = print) -> DemoResult:
    """Run (or resume) the demo in ``settings.workdir``; return where its outputs are."""
    from isla_nnunet.evaluation import evaluate
    from isla_nnunet.simulation.dataset import write_nnunet_dataset

    steps = _Steps(settings, echo)
    for name in nnunet_cli.FOLDER_VARIABLES:
        Path(steps.env[name]).mkdir(parents=True, exist_ok=True)
    raw = Path(steps.env["nnUNet_raw"]) / dataset_name(settings)
    plans = Path(steps.env["nnUNet_preprocessed"]) / dataset_name(settings) / f"{PLANS_NAME}.json"
    predictions = steps.root / "predictions"
    ensemble = predictions / "ensemble"
    metrics = steps.root / "metrics.csv"

    steps.timed("simulate", lambda: write_nnunet_dataset(
        steps.env["nnUNet_raw"], settings.dataset_id, "ISLADemo", settings.n_train, settings.n_test,
        domain="source", seed=settings.seed, progress=True), done=(raw / "dataset.json").exists())
    steps.timed("plan", lambda: steps.command(
        "isla", "plan", "-d", settings.dataset_id, "--features", ",".join(map(str, settings.features)),
        "--gpu-memory-target", DEMO_GPU_MEMORY_TARGET_GB), done=plans.exists())

    for base in settings.trainers:
        trainer = settings.trainer(base)
        model = _model_folder(steps.env, settings, trainer)
        steps.timed(f"train {trainer}", lambda t=trainer: steps.command(
            "nnUNetv2_train", settings.dataset_id, CONFIGURATION, settings.fold, "-p", PLANS_NAME, "-tr", t,
            "-device", settings.device, "--npz"),
            done=(model / f"fold_{settings.fold}" / FINAL_CHECKPOINT).exists())
        out = predictions / trainer
        steps.timed(f"predict {trainer}", lambda t=trainer, o=out: steps.command(
            "nnUNetv2_predict", "-i", raw / "imagesTs", "-o", o, "-d", settings.dataset_id,
            "-c", CONFIGURATION, "-p", PLANS_NAME, "-tr", t, "-f", settings.fold, "-device", settings.device,
            "--save_probabilities", "--disable_tta"), done=_complete(out, settings.n_test))

    members = [predictions / settings.trainer(base) for base in settings.trainers]
    steps.timed("ensemble", lambda: steps.command(
        "nnUNetv2_ensemble", "-i", *members, "-o", ensemble, "-np", 1),
        done=_complete(ensemble, settings.n_test))

    echo("[evaluate] ensemble against the simulated ground truth")
    report = evaluate(ensemble, raw / "labelsTs", output=metrics, workers=1, pred_pattern="*.nii.gz")
    _predict_native_scan(steps, settings)
    (steps.root / "timings.json").write_text(json.dumps(steps.seconds, indent=2))
    return DemoResult(raw, ensemble, metrics, report.format(), steps.seconds)


def _predict_native_scan(steps: _Steps, settings: DemoSettings) -> Path:
    """Last step: a simulated scan on a scanner's grid through ``isla predict`` with both demo models."""
    from isla_nnunet.prediction.report import summary_line
    from isla_nnunet.simulation import write_native_cases

    scans, outdir = steps.root / "native_scan", steps.root / "native_prediction"
    dwi, adc = scans / "case_0000_dwi.nii.gz", scans / "case_0000_adc.nii.gz"
    steps.timed("simulate a native scan", lambda: write_native_cases(
        scans, 1, domain="isles22-like", seed=settings.seed), done=(scans / "case_0000.json").exists())
    models = [arg for base in settings.trainers
              for arg in ("-m", _model_folder(steps.env, settings, settings.trainer(base)))]
    steps.timed("isla predict", lambda: steps.command(
        "isla", "predict", "--dwi", dwi, "--adc", adc, *models, "-o", outdir, "--device", settings.device),
        done=(outdir / "report.json").exists())
    report = json.loads((outdir / "report.json").read_text())
    steps.echo("[isla predict] " + summary_line(
        report["case_id"], report["lesion"], report["brain"]["volume_ml"], len(report["models"]),
        report["ensemble"]["method"], report["timings_s"]["total"], outdir))
    steps.echo(f"    report: {outdir / 'report.json'}   picture: {outdir / 'qc.png'}")
    return outdir


def _model_folder(env: dict, settings: DemoSettings, trainer: str) -> Path:
    return Path(env["nnUNet_results"]) / dataset_name(settings) / f"{trainer}__{PLANS_NAME}__{CONFIGURATION}"


def _complete(folder: Path, n_cases: int) -> bool:
    return folder.is_dir() and len(list(folder.glob("*.nii.gz"))) >= n_cases


def default_workdir() -> Path:
    return Path(os.environ.get("ISLA_DEMO_DIR", "isla_demo"))
