"""Trained nnU-Net models for ``isla predict``: finding, checking and loading them (once per run).

A model is given as an nnU-Net trained-model folder ``Trainer__Plans__configuration`` (one or more
folds; checked by :mod:`.model_checks` before any weight is read), or as a zip written by
``nnUNetv2_export_model_to_zip`` (:mod:`.model_zip`; unpacked into a temporary folder that lives as
long as the :class:`ModelSet`). Loading then needs the trainer class to be installed.

Prediction goes through nnU-Net's own :class:`nnunetv2.inference.predict_from_raw_data.nnUNetPredictor`
(in-process: preprocessing, sliding window, export of the probabilities), so a model behaves as under
``nnUNetv2_predict``; folds of one model are combined as nnU-Net does (mean of the logits). Test-time
mirroring is off unless asked for (ISLA predicts without it).

A Clèrigues et al. patch model (plans from ``isla plan --planner clerigues``) differs in three ways,
each the paper's (§3.1, §3.5): it also reads the mirrored DWI and ADC (the caller passes four
channels, :func:`isla_nnunet.preprocessing.symmetry.symmetric_versions`), it predicts by dense
overlapping patches with uniform averaging of probabilities (:mod:`.dense_patches`; folds: mean of
their probabilities) instead of nnU-Net's Gaussian-weighted sliding window, and its mask is the
threshold and minimum lesion size stored beside it by ``isla search-postprocessing``
(``postprocessing.json``), when there is one.

Example:
    >>> with ModelSet.load(["Dataset101/ISLATrainer_B__ISLAPlans__3d_fullres"]) as models:  # doctest: +SKIP
    ...     probability = models[0].lesion_probability(channels)  # (z, y, x) float32 in [0, 1]
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from isla_nnunet import reference
from isla_nnunet.errors import ISLAError
from isla_nnunet.evaluation.postprocessing import FILE_NAME as POSTPROCESSING_FILE
from isla_nnunet.evaluation.postprocessing import PostProcessing
from isla_nnunet.nnunet import environment as nnunet_env
from isla_nnunet.nnunet.layout import LABELS
from isla_nnunet.prediction.dense_patches import PAPER_STEP_ZYX, dense_patch_probability
from isla_nnunet.prediction.model_checks import DEFAULT_CHECKPOINT, ModelInfo, check_configuration, check_model_folder
from isla_nnunet.prediction.model_zip import unpack_model_zip
from isla_nnunet.prediction.predictor import initialize_predictor
from isla_nnunet.prediction.shipped import is_shipped, sha256

DEVICES = ("auto", "cpu", "cuda")


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
    """A model with its weights in an :class:`nnUNetPredictor`, ready to predict cases one by one.

    Attributes:
        dense_step: (z, y, x) step of dense patch inference for a patch model, None for nnU-Net's
            sliding window (ISLA's whole-volume models).
        postprocessing: the model's own threshold and minimum lesion size (``postprocessing.json``),
            None for ISLA's p > 0.5.
        weights_sha256: SHA-256 of each fold's checkpoint file, in fold order: which weights predicted
            (a folder's name stays when its weights are retrained or replaced).
    """

    info: ModelInfo
    predictor: object
    trainer: str
    configuration: str
    lesion_channel: int
    dense_step: tuple[int, int, int] | None = None
    postprocessing: PostProcessing | None = None
    weights_sha256: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def input_channels(self) -> int:
        """2 (DWI, ADC) or 4 (and their mirror images)."""
        return 4 if self.info.symmetric_channels else 2

    def to_dict(self) -> dict:
        inference = ({"method": "dense patches, mean probability", "step_zyx": list(self.dense_step)}
                     if self.dense_step else {"method": "nnU-Net sliding window"})
        postprocessing = {**asdict(self.postprocessing), "file": POSTPROCESSING_FILE} if self.postprocessing else None
        return {**self.info.to_dict(), "shipped": is_shipped(self.info.source), "trainer": self.trainer,
                "configuration": self.configuration, "plans": self.predictor.plans_manager.plans_name,
                "inference": inference, "postprocessing": postprocessing, "weights_sha256": list(self.weights_sha256)}

    def lesion_probability(self, channels: np.ndarray) -> np.ndarray:
        """Lesion probability on the reference grid, the network applied to the whole reference frame.

        The channels go through the model's own nnU-Net preprocessing (crop to the non-zero box,
        z-score over the brain) and are then put back in place on the full frame, where training put
        them (:mod:`isla_nnunet.training.full_frame`); nnU-Net's own predictor would instead pad the
        crop centred, shifting the brain. Folds are averaged as nnU-Net does (mean of the logits). A
        patch model runs dense patch inference over the brain's box instead (module docs); outside the
        box the probability is 0.

        Args:
            channels: (2, z, y, x) float32 DWI and ADC on the reference grid, 0 outside the brain (as
                ``isla convert`` writes them), or (4, z, y, x) with their mirror images; a model reads
                the first :attr:`input_channels`.

        Returns:
            (z, y, x) float32 probabilities (nnU-Net's softmax of the lesion class).

        Raises:
            ISLAError: channels of another grid, or fewer than the model reads.
        """
        import torch

        from isla_nnunet.training.full_frame import uncrop

        if channels.ndim != 4 or channels.shape[1:] != reference.SHAPE_ZYX or \
                channels.shape[0] < self.input_channels:
            raise ISLAError(f"channels of shape {channels.shape} given, model {self.name} needs "
                            f"({self.input_channels}, *{reference.SHAPE_ZYX})")
        predictor = self.predictor
        properties = {"spacing": [float(s) for s in reference.SPACING_ZYX]}
        preprocessor = predictor.configuration_manager.preprocessor_class(verbose=False)
        with _quiet():
            data, _, properties = preprocessor.run_case_npy(
                np.ascontiguousarray(channels[:self.input_channels], dtype=np.float32), None, properties,
                predictor.plans_manager, predictor.configuration_manager, predictor.dataset_json)
            if self.dense_step:
                box = self._dense_probability(torch.from_numpy(data))
                return uncrop(box[None], np.zeros((1, *box.shape), np.int8), properties)[0][0]
            full = uncrop(data, np.zeros((1, *data.shape[1:]), np.int8), properties)[0]
            logits = predictor.predict_logits_from_preprocessed_data(torch.from_numpy(full)).float()
        probabilities = predictor.label_manager.apply_inference_nonlin(logits)
        return np.asarray(probabilities[self.lesion_channel].cpu().numpy(), dtype=np.float32)

    def _dense_probability(self, data) -> np.ndarray:
        predictor = self.predictor
        network = predictor.network
        device = next(network.parameters()).device
        total = None
        for parameters in predictor.list_of_parameters:
            network.load_state_dict(parameters)
            probability = dense_patch_probability(network, data.to(device), predictor.configuration_manager.patch_size,
                                                  self.dense_step, lesion_channel=self.lesion_channel)
            total = probability if total is None else total + probability
        return (total / len(predictor.list_of_parameters)).cpu().numpy().astype(np.float32)


def _configuration_name(info: ModelInfo, plans_manager, configuration_manager) -> str:
    # nnU-Net keeps the name only in the checkpoint; its folder naming (Trainer__Plans__configuration)
    # normally says it, else the plans entry with the same content does.
    candidates = [info.name.split("__")[-1], *plans_manager.available_configurations]
    return next((c for c in candidates if c in plans_manager.available_configurations
                 and plans_manager.get_configuration(c).configuration == configuration_manager.configuration),
                "unknown configuration")


def check_patch_step(patch_step: Sequence[int]) -> tuple[int, int, int]:
    """The (z, y, x) dense-inference step as ints.

    Raises:
        ISLAError: not three steps of at least one voxel.
    """
    step = tuple(int(k) for k in patch_step)
    if len(step) != 3 or min(step) < 1:
        raise ISLAError(f"patch step {list(patch_step)} is not three steps of >= 1 voxel (z, y, x): "
                        "give e.g. --patch-step 1 4 4")
    return step


def load_model(info: ModelInfo, device, tta: bool = False, precision: str | None = None,
               patch_step: Sequence[int] = PAPER_STEP_ZYX) -> LoadedModel:
    """Load a checked model's weights into nnU-Net's predictor on ``device`` (a ``torch.device``).

    ``precision`` chooses the CPU arithmetic (``auto``, ``bf16``, ``fp32``; None: ``$ISLA_CPU_PRECISION``,
    default auto), see :mod:`isla_nnunet.networks.cpu_execution`. ``patch_step`` is the (z, y, x) step of
    dense inference, used by patch models only (default: the paper's 1 x 4 x 4).

    Raises:
        ISLAError: a bad patch step, --tta for a patch model, the trainer class is not installed, a
            checkpoint holds more than tensors and numbers (it is never unpickled,
            :mod:`isla_nnunet.io.checkpoints`), the checkpoint does not fit the plans, or the
            configuration is not one of the reference grid.
    """
    import torch

    from isla_nnunet.networks.cpu_execution import CPUExecution

    check_patch_step(patch_step)
    if info.patch_model and tta:
        raise ISLAError(f"model {info.source} is a patch model: test-time mirroring is not part of its dense "
                        "inference, leave out --tta")
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
    except Exception as err:  # whatever breaks here, the folder's files do not fit together
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
    postprocessing_file = info.folder / POSTPROCESSING_FILE
    postprocessing = PostProcessing.load(postprocessing_file) if postprocessing_file.is_file() else None
    return LoadedModel(info, predictor, predictor.trainer_name, name,
                       list(label_manager.all_labels).index(LABELS["lesion"]),
                       dense_step=check_patch_step(patch_step) if info.patch_model else None,
                       postprocessing=postprocessing,
                       weights_sha256=tuple(sha256(path) for path in info.checkpoint_files()))


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
             precision: str | None = None, patch_step: Sequence[int] = PAPER_STEP_ZYX) -> ModelSet:
        """Check and load every model (folders or exported zips).

        Args:
            sources: model folders or zips; several = an ensemble.
            device: "auto", "cpu" or "cuda".
            tta: test-time mirroring (nnU-Net's, along the axes the trainer allows).
            folds: folds to use in every model (None: all available).
            checkpoint: checkpoint file name.
            precision: CPU arithmetic (see :func:`load_model`).
            patch_step: dense-inference step of patch models (see :func:`load_model`).

        Raises:
            ISLAError: see :func:`check_model_folder`, :func:`unpack_model_zip`, :func:`load_model`.
        """
        paths = cls.check(sources, folds, checkpoint)
        check_patch_step(patch_step)
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
                out.models.append(load_model(info, torch_device, tta, precision, patch_step))
        except BaseException:
            out.close()
            raise
        return out
