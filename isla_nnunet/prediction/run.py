"""The one entry point of ``isla predict``: these inputs, with these models, into this folder.

It owns the order that keeps a bad run cheap and its outputs whole: the cheap checks first (the
output folder, the model folders, the case's files and brain-extraction method), then the models
are loaded once, then the case (or every case of a batch) is predicted. Lines meant for the user
(which model was taken by default, each case's summary) go to ``echo``; the result says whether a
case failed or a registration was flagged, which the command turns into its exit status.

Example:
    >>> run = predict(CaseSpec("c1", "dwi.nii.gz", adc="adc.nii.gz"), "out/c1")  # doctest: +SKIP
    >>> run.failed, run.registration_flagged  # doctest: +SKIP
    (False, False)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from isla_nnunet.conversion.cases import CaseSpec, case_id_from_name
from isla_nnunet.io.images import image_suffix
from isla_nnunet.prediction.batch import BatchSummary, predict_batch
from isla_nnunet.prediction.dense_patches import PAPER_STEP_ZYX
from isla_nnunet.prediction.model_checks import DEFAULT_CHECKPOINT
from isla_nnunet.prediction.models import ModelSet
from isla_nnunet.prediction.pipeline import (
    CasePrediction,
    PredictionSettings,
    case_inputs,
    check_outdir,
    predict_case,
    read_case,
)
from isla_nnunet.prediction.report import registration_failed
from isla_nnunet.prediction.shipped import shipped_model_folder
from isla_nnunet.preprocessing.brain_extraction import resolve_method


@dataclass(frozen=True)
class ModelOptions:
    """Which models and how they run.

    Attributes:
        models: model folders or exported zips (several: an ensemble); empty for the shipped model.
        device: "auto", "cpu" or "cuda".
        tta: test-time mirroring.
        folds: folds of every model (None: all found).
        checkpoint: checkpoint file name in each fold folder.
        precision: CPU arithmetic ("auto", "bf16", "fp32"; None: ``$ISLA_CPU_PRECISION``).
        patch_step: (z, y, x) step of a patch model's dense inference.
    """

    models: Sequence[str | os.PathLike] = ()
    device: str = "auto"
    tta: bool = False
    folds: Sequence | None = None
    checkpoint: str = DEFAULT_CHECKPOINT
    precision: str | None = None
    patch_step: Sequence[int] = PAPER_STEP_ZYX


@dataclass
class PredictionRun:
    """What one call of :func:`predict` did: the case's result, or the batch's summary."""

    case: CasePrediction | None = None
    batch: BatchSummary | None = None
    lines: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.batch and self.batch.failed)

    @property
    def registration_flagged(self) -> bool:
        if self.case is not None:
            return registration_failed(self.case.report["registration"])
        return bool(self.batch and self.batch.registration_failed)


def case_id_for(dwi: str | os.PathLike) -> str:
    """A case id from a DWI path: the file name without its image suffix, cleaned.

    Example:
        >>> case_id_for("/data/sub-01_dwi.nii.gz"), case_id_for("/data/dicom/series7/")
        ('sub-01_dwi', 'series7')
    """
    name = Path(os.fspath(dwi).rstrip("/\\")).name
    suffix = image_suffix(name)
    return case_id_from_name(name[: -len(suffix)] if suffix else name)


def model_sources(options: ModelOptions, echo: Callable[[str], None]) -> list[str]:
    """The models to load, checked (no weights read): those given, or the shipped model (said once, so
    no one mistakes it).

    Raises:
        ISLAError: a missing or malformed model folder (:meth:`ModelSet.check`).
    """
    if options.models:
        sources = [os.fspath(m) for m in options.models]
    else:
        folder = shipped_model_folder()
        echo(f"no -m given: using the shipped model {folder.name} (trained on simulated cases only; "
             "figures in docs/model_card.md)")
        sources = [os.fspath(folder)]
    ModelSet.check(sources, options.folds, options.checkpoint)
    return sources


def load_models(sources: list[str], options: ModelOptions) -> ModelSet:
    """Load checked ``sources`` as ``options`` say (a context manager; see :meth:`ModelSet.load`)."""
    return ModelSet.load(sources, options.device, options.tta, options.folds, options.checkpoint,
                         options.precision, options.patch_step)


def predict(inputs: CaseSpec | Sequence[CaseSpec], output: str | os.PathLike,
            options: ModelOptions = ModelOptions(), settings: PredictionSettings | None = None,
            bvalues: Sequence[float] | None = None, progress: bool = True,
            echo: Callable[[str], None] = print) -> PredictionRun:
    """Predict one case into ``output`` or many cases into ``output/CASE_ID``.

    Args:
        inputs: one case (``output`` is its folder) or a sequence of cases (``output`` is the root).
        output: output folder.
        options: models and how they run.
        settings: what is predicted and written (:class:`~.pipeline.PredictionSettings`; None: defaults).
        bvalues: b-values of a one-case multi-volume DWI without sidecar.
        progress: show the batch's progress bar.
        echo: receives the lines meant for the user.

    Raises:
        ISLAError: a bad model, output folder, or (one case) input; nothing is written then. A batch
            case's own problem is recorded in the batch summary instead.
    """
    settings = settings or PredictionSettings()
    if isinstance(inputs, CaseSpec):
        # Cheap checks first, so that a bad input fails before the models load.
        check_outdir(output, settings.overwrite, case_inputs(inputs, settings))
        sources = model_sources(options, echo)
        read = read_case(inputs, bvalues)
        resolve_method(read.case, inputs.brain or settings.brain_method)
        with load_models(sources, options) as models:
            result = predict_case(inputs, models, output, settings, read=read)
        echo(result.summary)
        echo(f"  report: {result.outdir / 'report.json'}   picture: {result.outdir / 'qc.png'}")
        return PredictionRun(case=result)
    sources = model_sources(options, echo)
    with load_models(sources, options) as models:
        summary = predict_batch(list(inputs), models, output, settings, progress=progress, echo=echo)
    for line in summary.lines():
        echo(line)
    return PredictionRun(batch=summary)

