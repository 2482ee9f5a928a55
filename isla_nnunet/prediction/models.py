"""Trained nnU-Net models for ``isla predict``: finding, checking and loading them (once per run).

A model is given as

- an nnU-Net trained-model folder ``Trainer__Plans__configuration`` holding ``plans.json``,
  ``dataset.json`` and ``fold_N/checkpoint_final.pth`` (one or more folds), or
- a zip written by ``nnUNetv2_export_model_to_zip`` (unpacked into a temporary folder that lives as long
  as the :class:`ModelSet`); the zip must hold exactly one such folder.

Checks before any weight is used (each failure is one :class:`~isla_nnunet.errors.ISLAError` line):

- ``dataset.json``: two input channels named DWI and ADC in that order (what ``isla convert`` writes)
  and the labels ``{"background": 0, "lesion": 1}``;
- the configuration in the plans: target spacing equal to the ISLA reference grid's (6 x 0.9 x 0.9 mm,
  z, y, x) and a patch no larger than the grid, i.e. a model trained on reference-space data;
- the requested folds exist with the checkpoint file; the trainer class is installed.

Prediction goes through nnU-Net's own :class:`nnunetv2.inference.predict_from_raw_data.nnUNetPredictor`
(in-process: preprocessing, sliding window, export of the probabilities), so a model behaves as under
``nnUNetv2_predict``; folds of one model are combined as nnU-Net does (mean of the logits). Test-time
mirroring is off unless asked for (ISLA predicts without it).

Example:
    >>> with ModelSet.load(["Dataset101/ISLATrainer_B__ISLAPlans__3d_fullres"]) as models:  # doctest: +SKIP
    ...     probability = models[0].lesion_probability(channels)  # (z, y, x) float32 in [0, 1]
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from isla_nnunet import nnunet_env, reference
from isla_nnunet.errors import ISLAError
from isla_nnunet.io.checkpoints import FINAL_CHECKPOINT, check_checkpoint_name
from isla_nnunet.nnunet_layout import CHANNEL_NAMES, LABELS
from isla_nnunet.prediction.predictor import initialize_predictor

DEFAULT_CHECKPOINT = FINAL_CHECKPOINT
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class ModelInfo:
    """A checked model folder (no weights loaded).

    Attributes:
        name: the folder name (``Trainer__Plans__configuration``).
        folder: the folder holding plans.json (inside the temporary folder for a zip).
        source: what the user gave (folder or zip path).
        folds: folds used, as nnU-Net names them (ints, or "all").
        checkpoint: checkpoint file name inside each fold folder.
    """

    name: str
    folder: Path
    source: Path
    folds: tuple
    checkpoint: str

    def to_dict(self) -> dict:
        from isla_nnunet.prediction.shipped import is_shipped

        return {"name": self.name, "source": os.fspath(self.source), "folds": list(self.folds),
                "checkpoint": self.checkpoint, "shipped": is_shipped(self.source)}


def _read_json(path: Path, what: str, source: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ISLAError(f"cannot read {what} of model {source} ({type(err).__name__}): "
                        "give an nnU-Net trained-model folder or its exported zip") from None
    if not isinstance(data, dict):
        raise ISLAError(f"{what} of model {source} is not a JSON object: "
                        "give an nnU-Net trained-model folder")
    return data


def check_dataset_json(dataset_json: dict, source: str | os.PathLike) -> None:
    """Raise unless the model reads (DWI, ADC) and segments one lesion label.

    Example:
        >>> check_dataset_json({"channel_names": {"0": "DWI", "1": "ADC"},
        ...                     "labels": {"background": 0, "lesion": 1}}, "m")
        >>> check_dataset_json({"channel_names": {"0": "T1"}, "labels": {"background": 0, "lesion": 1}},
        ...                    "m")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        isla_nnunet.errors.ISLAError: model m reads the channels ['T1'], not ['DWI', 'ADC']: ...
    """
    channels = dataset_json.get("channel_names", dataset_json.get("modality", {}))
    try:
        names = [str(channels[k]) for k in sorted(channels, key=int)]
    except (TypeError, ValueError):
        names = [str(v) for v in (channels.values() if isinstance(channels, dict) else [])]
    if [n.strip().upper() for n in names] != list(CHANNEL_NAMES.values()):
        raise ISLAError(f"model {source} reads the channels {names}, not {list(CHANNEL_NAMES.values())}: "
                        "predict with a model trained on data from isla convert")
    labels = dataset_json.get("labels", {})
    if not isinstance(labels, dict) or any(isinstance(v, list) for v in labels.values()) or \
            {str(k): int(v) for k, v in labels.items()} != LABELS:
        raise ISLAError(f"model {source} segments the labels {labels}, not {LABELS}: "
                        "predict with an ISLA lesion model")


def check_configuration(spacing_zyx: Sequence[float], patch_size_zyx: Sequence[int],
                        source: str | os.PathLike, configuration: str) -> None:
    """Raise unless a plans configuration was made for data on the ISLA reference grid.

    Args:
        spacing_zyx: the configuration's target spacing (nnU-Net order z, y, x).
        patch_size_zyx: its patch size.
        source: model named in messages.
        configuration: configuration name named in messages.

    Example:
        >>> check_configuration([6.0, 0.9, 0.9], [32, 224, 192], "m", "3d_fullres")
        >>> check_configuration([1.0, 1.0, 1.0], [128, 128, 128], "m", "3d_fullres")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        isla_nnunet.errors.ISLAError: model m (3d_fullres) was planned for 1 x 1 x 1 mm voxels (z, y, x), ...
    """
    spacing = [float(s) for s in spacing_zyx]
    tolerance = reference.SPACING_TOLERANCE_MM
    if len(spacing) != 3 or not np.allclose(spacing, reference.SPACING_ZYX, atol=tolerance):
        shown = " x ".join(f"{s:g}" for s in spacing)
        expected = " x ".join(f"{s:g}" for s in reference.SPACING_ZYX)
        raise ISLAError(f"model {source} ({configuration}) was planned for {shown} mm voxels (z, y, x), "
                        f"not the ISLA reference grid's {expected} mm: predict with a model trained on data "
                        "from isla convert")
    patch = [int(p) for p in patch_size_zyx]
    if len(patch) != 3 or any(p > s for p, s in zip(patch, reference.SHAPE_ZYX, strict=True)):
        raise ISLAError(f"model {source} ({configuration}) has a patch of {patch} voxels (z, y, x), larger "
                        f"than the reference grid {list(reference.SHAPE_ZYX)}: its plans do not belong to "
                        "ISLA's reference space, retrain on data from isla convert")


def _available_folds(folder: Path, checkpoint: str) -> list:
    numbered = sorted(int(p.name[5:]) for p in folder.glob("fold_*")
                      if p.name[5:].isdigit() and (p / checkpoint).is_file())
    if numbered:
        return numbered
    return ["all"] if (folder / "fold_all" / checkpoint).is_file() else []


def _fold(value) -> int | str:
    text = str(value).strip()
    if text == "all":
        return "all"
    if not text.isdigit():
        raise ISLAError(f"fold {value!r} is not a fold number or 'all': give e.g. --folds 0 1 2 3 4")
    return int(text)


def _folder_configuration(folder_name: str, plans: dict) -> tuple[str, dict] | None:
    """(name, resolved entry) of the plans configuration a folder is named after, or None when unknown.

    nnU-Net names result folders ``Trainer__Plans__configuration``; a plans file with a single
    configuration names it too. ``inherits_from`` chains are resolved as nnU-Net resolves them.
    """
    configurations = plans.get("configurations")
    if not isinstance(configurations, dict) or not configurations:
        return None
    name = folder_name.split("__")[-1]
    if name not in configurations:
        if len(configurations) != 1:
            return None
        name = next(iter(configurations))
    resolved: dict = {}
    current, seen = name, set()
    while current in configurations and current not in seen:
        seen.add(current)
        entry = configurations[current]
        resolved = {**entry, **resolved}
        current = entry.get("inherits_from")
    return name, resolved


def check_model_folder(folder: str | os.PathLike, folds: Sequence | None = None,
                       checkpoint: str = DEFAULT_CHECKPOINT,
                       source: str | os.PathLike | None = None) -> ModelInfo:
    """Check a trained-model folder's files, dataset.json and plans (no torch import, no weights read).

    Args:
        folder: ``Trainer__Plans__configuration`` folder.
        folds: folds to use; None = every ``fold_N`` holding ``checkpoint`` (else ``fold_all``).
        checkpoint: checkpoint file name.
        source: name used in messages (the zip a folder came from); defaults to ``folder``.

    Raises:
        ISLAError: missing folder/files/folds, a checkpoint name that is a path, a dataset.json of
            another task, or plans (of the configuration the folder is named after) not made for the
            reference grid.
    """
    folder = Path(folder)
    source = Path(source) if source is not None else folder
    check_checkpoint_name(checkpoint)
    if not folder.is_dir():
        raise ISLAError(f"model {source} does not exist: give an nnU-Net trained-model folder "
                        "(Trainer__Plans__configuration) or a zip from nnUNetv2_export_model_to_zip")
    missing = [name for name in ("plans.json", "dataset.json") if not (folder / name).is_file()]
    if missing:
        raise ISLAError(f"{source} is not an nnU-Net trained-model folder (no {' or '.join(missing)}): "
                        "give the Trainer__Plans__configuration folder that holds fold_N/")
    check_dataset_json(_read_json(folder / "dataset.json", "dataset.json", source), source)
    plans = _read_json(folder / "plans.json", "plans.json", source)
    named = _folder_configuration(folder.name, plans)
    if named is not None:
        check_configuration(named[1].get("spacing", []), named[1].get("patch_size", []), source, named[0])
    if folds:
        chosen = [_fold(f) for f in folds]
        absent = [f for f in chosen if not (folder / f"fold_{f}" / checkpoint).is_file()]
        if absent:
            raise ISLAError(f"model {source} has no fold_{absent[0]}/{checkpoint}: train that fold or choose "
                            f"other folds (found {_available_folds(folder, checkpoint) or 'none'})")
    else:
        chosen = _available_folds(folder, checkpoint)
        if not chosen:
            raise ISLAError(f"model {source} has no fold_N/{checkpoint}: finish training it, or name another "
                            "checkpoint with --checkpoint")
    return ModelInfo(folder.name, folder, source, tuple(chosen), checkpoint)


def _safe_extract(archive: zipfile.ZipFile, into: Path) -> None:
    root = into.resolve()
    for member in archive.namelist():
        target = (root / member).resolve()
        if root != target and root not in target.parents:
            raise ISLAError(f"{archive.filename} holds the path {member!r} outside its folder: "
                            "give a zip written by nnUNetv2_export_model_to_zip")
    archive.extractall(root)


def unpack_model_zip(path: str | os.PathLike, into: str | os.PathLike) -> Path:
    """Unpack an exported model zip into ``into`` and return its single trained-model folder.

    Raises:
        ISLAError: unreadable zip, or not exactly one folder with plans.json and fold folders.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            _safe_extract(archive, Path(into))
    except (OSError, zipfile.BadZipFile) as err:
        raise ISLAError(f"cannot unpack model {path} ({type(err).__name__}): give a zip written by "
                        "nnUNetv2_export_model_to_zip") from None
    folders = sorted({p.parent for p in Path(into).rglob("plans.json") if any(p.parent.glob("fold_*"))})
    if len(folders) != 1:
        found = ", ".join(f.name for f in folders) or "none"
        raise ISLAError(f"{path.name} holds {len(folders)} trained-model folders ({found}): export one "
                        "configuration per zip (nnUNetv2_export_model_to_zip -c 3d_fullres)")
    return folders[0]


def resolve_device(device: str):
    """``torch.device`` for "cpu", "cuda" or "auto" (CUDA when available).

    Raises:
        ISLAError: unknown name, or "cuda" on a machine without a usable CUDA GPU.
    """
    import torch

    if device not in DEVICES:
        raise ISLAError(f"device {device!r} unknown: use {', '.join(DEVICES)}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ISLAError("--device cuda asked for but no CUDA GPU is usable here: use --device cpu or auto")
    return torch.device(device)


@contextlib.contextmanager
def _isla_trainers_visible() -> Iterator[None]:
    # nnU-Net finds the trainer class named in a checkpoint through nnUNet_extTrainer, which it reads when
    # it searches; adding this plugin's trainer folder for the search alone leaves the user's setting intact.
    with nnunet_env.environment({"nnUNet_extTrainer": nnunet_env.trainers_first(os.environ.get("nnUNet_extTrainer"))}):
        yield


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # nnU-Net narrates every step on stdout and its imports warn about deprecated torch APIs; isla
    # predict's stdout is its one-line summaries.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        yield


@dataclass
class LoadedModel:
    """A model with its weights in an :class:`nnUNetPredictor`, ready to predict cases one by one."""

    info: ModelInfo
    predictor: object
    trainer: str
    configuration: str
    lesion_channel: int

    @property
    def name(self) -> str:
        return self.info.name

    def to_dict(self) -> dict:
        return {**self.info.to_dict(), "trainer": self.trainer, "configuration": self.configuration,
                "plans": self.predictor.plans_manager.plans_name}

    def lesion_probability(self, channels: np.ndarray) -> np.ndarray:
        """Lesion probability on the reference grid, the network applied to the whole reference frame.

        The channels go through the model's own nnU-Net preprocessing (crop to the non-zero box,
        z-score over the brain) and are then put back in place on the full frame, where training put
        them (:mod:`isla_nnunet.training.full_frame`); nnU-Net's own predictor would instead pad the
        crop centred, shifting the brain. Folds are averaged as nnU-Net does (mean of the logits).

        Args:
            channels: (2, z, y, x) float32 DWI and ADC on the reference grid, 0 outside the brain (as
                ``isla convert`` writes them).

        Returns:
            (z, y, x) float32 probabilities (nnU-Net's softmax of the lesion class).
        """
        import torch

        from isla_nnunet.training.full_frame import uncrop

        if channels.shape != (2, *reference.SHAPE_ZYX):
            raise ISLAError(f"channels of shape {channels.shape} given, expected (2, *{reference.SHAPE_ZYX})")
        predictor = self.predictor
        properties = {"spacing": [float(s) for s in reference.SPACING_ZYX]}
        preprocessor = predictor.configuration_manager.preprocessor_class(verbose=False)
        with _quiet():
            data, _, properties = preprocessor.run_case_npy(
                np.ascontiguousarray(channels, dtype=np.float32), None, properties, predictor.plans_manager,
                predictor.configuration_manager, predictor.dataset_json)
            full = uncrop(data, np.zeros((1, *data.shape[1:]), np.int8), properties)[0]
            logits = predictor.predict_logits_from_preprocessed_data(torch.from_numpy(full)).float()
        probabilities = predictor.label_manager.apply_inference_nonlin(logits)
        return np.asarray(probabilities[self.lesion_channel].cpu().numpy(), dtype=np.float32)


def _configuration_name(info: ModelInfo, plans_manager, configuration_manager) -> str:
    # nnU-Net keeps the name only in the checkpoint; its folder naming (Trainer__Plans__configuration)
    # normally says it, else the plans entry with the same content does.
    candidates = [info.name.split("__")[-1], *plans_manager.available_configurations]
    return next((c for c in candidates if c in plans_manager.available_configurations
                 and plans_manager.get_configuration(c).configuration == configuration_manager.configuration),
                "unknown configuration")


def load_model(info: ModelInfo, device, tta: bool = False, precision: str | None = None) -> LoadedModel:
    """Load a checked model's weights into nnU-Net's predictor on ``device`` (a ``torch.device``).

    ``precision`` chooses the CPU arithmetic (``auto``, ``bf16``, ``fp32``; None: ``$ISLA_CPU_PRECISION``,
    default auto), see :mod:`isla_nnunet.networks.cpu_execution`.

    Raises:
        ISLAError: the trainer class is not installed, a checkpoint holds more than tensors and numbers
            (it is never unpickled, :mod:`isla_nnunet.io.checkpoints`), the checkpoint does not fit
            the plans, or the configuration is not one of the reference grid.
    """
    import torch

    from isla_nnunet.networks.cpu_execution import CPUExecution

    with _quiet():
        from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

        predictor = nnUNetPredictor(tile_step_size=0.5, use_gaussian=True, use_mirroring=tta,
                                    perform_everything_on_device=device.type == "cuda", device=device,
                                    verbose=False, verbose_preprocessing=False, allow_tqdm=False)
    try:
        with _quiet(), _isla_trainers_visible():
            initialize_predictor(predictor, info.folder, info.folds, info.checkpoint)
    except ISLAError:
        raise
    except Exception as err:  # noqa: BLE001 - whatever breaks here, the folder's files do not fit together
        text = str(err).strip()
        first = f"{type(err).__name__}: {text.splitlines()[0][:200]}" if text else type(err).__name__
        raise ISLAError(f"cannot load model {info.source} ({first}): check that its trainer is installed and "
                        "that the checkpoint belongs to this folder") from None
    configuration = predictor.configuration_manager
    name = _configuration_name(info, predictor.plans_manager, configuration)
    check_configuration(configuration.spacing, configuration.patch_size, info.source, name)
    # A whole-volume patch (ISLA's) is one tile: Gaussian weighting only blends overlapping tiles, and
    # with nnU-Net's float16 accumulation its tiny weights at the volume's corners cost precision.
    predictor.use_gaussian = tuple(configuration.patch_size) != reference.SHAPE_ZYX
    label_manager = predictor.label_manager
    if label_manager.has_regions:
        raise ISLAError(f"model {info.source} was trained with regions: predict with an ISLA lesion model")
    predictor.network.to(device)
    if device.type == "cpu":
        # bf16 autocast and channels-last weights (docs/benchmarks.md); nnU-Net's per-fold
        # load_state_dict copies into these tensors and keeps their layout.
        try:
            execution = CPUExecution.from_setting(precision) if precision else CPUExecution.from_environment()
        except ValueError as err:
            raise ISLAError(f"{err}: set it to auto, bf16 or fp32") from None
        if hasattr(predictor.network, "cpu_execution"):
            execution.apply(predictor.network)
        else:
            predictor.network.to(memory_format=torch.channels_last_3d)
    predictor.network.eval()
    return LoadedModel(info, predictor, predictor.trainer_name, name,
                       list(label_manager.all_labels).index(LABELS["lesion"]))


@dataclass
class ModelSet:
    """The models of one run, loaded once; a context manager that removes unpacked zips on exit."""

    models: list[LoadedModel]
    device: str
    tta: bool
    _temporary: list[tempfile.TemporaryDirectory] = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return len(self.models)

    def __getitem__(self, index: int) -> LoadedModel:
        return self.models[index]

    def __iter__(self) -> Iterator[LoadedModel]:
        return iter(self.models)

    def __enter__(self) -> ModelSet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for folder in self._temporary:
            folder.cleanup()
        self._temporary.clear()

    @classmethod
    def check(cls, sources: Sequence[str | os.PathLike], folds: Sequence | None = None,
              checkpoint: str = DEFAULT_CHECKPOINT) -> list[Path]:
        """Fail fast on a missing model path before any work (zips are checked when loaded)."""
        if not sources:
            raise ISLAError("no model given: pass -m MODEL_FOLDER (repeat -m for an ensemble)")
        paths = [Path(s) for s in sources]
        for path in paths:
            if not path.exists():
                raise ISLAError(f"model {path} does not exist: give an nnU-Net trained-model folder "
                                "(Trainer__Plans__configuration) or a zip from nnUNetv2_export_model_to_zip")
            if path.is_dir():
                check_model_folder(path, folds, checkpoint)
        return paths

    @classmethod
    def load(cls, sources: Sequence[str | os.PathLike], device: str = "auto", tta: bool = False,
             folds: Sequence | None = None, checkpoint: str = DEFAULT_CHECKPOINT,
             precision: str | None = None) -> ModelSet:
        """Check and load every model (folders or exported zips).

        Args:
            sources: model folders or zips; several = an ensemble.
            device: "auto", "cpu" or "cuda".
            tta: test-time mirroring (nnU-Net's, along the axes the trainer allows).
            folds: folds to use in every model (None: all available).
            checkpoint: checkpoint file name.
            precision: CPU arithmetic (see :func:`load_model`).

        Raises:
            ISLAError: see :func:`check_model_folder`, :func:`unpack_model_zip`, :func:`load_model`.
        """
        paths = cls.check(sources, folds, checkpoint)
        torch_device = resolve_device(device)
        out = cls([], torch_device.type, tta)
        try:
            for path in paths:
                folder = path
                if path.is_file():
                    temporary = tempfile.TemporaryDirectory(prefix="isla_model_")
                    out._temporary.append(temporary)
                    folder = unpack_model_zip(path, temporary.name)
                info = check_model_folder(folder, folds, checkpoint, source=path)
                out.models.append(load_model(info, torch_device, tta, precision))
        except BaseException:
            out.close()
            raise
        return out
