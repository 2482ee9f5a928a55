"""The model inside the package: ISLA-B trained on simulated cases only, used by ``isla predict`` without ``-m``.

``isla_nnunet/shipped_model/<Trainer__Plans__configuration>/`` is an ordinary nnU-Net trained-model
folder (``plans.json``, ``dataset.json``, ``fold_0/checkpoint_final.pth``), so ``isla predict -m`` and
``nnUNetv2_predict_from_modelfolder -i IN -o OUT -m FOLDER`` load it as they load any other. Its
checkpoint keeps only what prediction reads, with the weights in float16 (half the size; loading casts
them back to the network's float32), and holds nothing but tensors and plain Python values, so
``torch.load(..., weights_only=True)`` reads it. ``figures.json`` beside the folder records the
training run and the figures measured on it (``scripts/model_card.py``); ``docs/model_card.md`` is
rendered from it by :mod:`isla_nnunet.prediction.model_card`.

Example:
    >>> shipped_model_folder().name  # doctest: +SKIP
    'ISLATrainer_B_CPU_15epochs__ISLAPlans__3d_fullres'
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

from isla_nnunet.errors import ISLAError
from isla_nnunet.io.checkpoints import FINAL_CHECKPOINT, load_checkpoint

SHIPPED_ROOT = Path(__file__).resolve().parents[1] / "shipped_model"
FIGURES_FILE = "figures.json"
SHIPPED_FOLD = 0
SHIPPED_CHECKPOINT = FINAL_CHECKPOINT
# What nnUNetPredictor.initialize_from_trained_model_folder reads from a checkpoint; the optimizer state,
# logs and best-EMA value would triple the size and are of no use to prediction.
PREDICTION_KEYS = ("network_weights", "trainer_name", "init_args", "inference_allowed_mirroring_axes",
                   "current_epoch")


def shipped_model_folder(root: str | os.PathLike = SHIPPED_ROOT) -> Path:
    """The trained-model folder shipped in ``root``.

    Raises:
        ISLAError: no (or more than one) model folder there, e.g. an installation without package data.
    """
    root = Path(root)
    checkpoints = root.glob(f"*/fold_{SHIPPED_FOLD}/{SHIPPED_CHECKPOINT}") if root.is_dir() else []
    folders = sorted(p.parent.parent for p in checkpoints if not p.parent.parent.name.startswith("."))
    if len(folders) != 1:
        raise ISLAError(f"the shipped model is missing from {root} ({len(folders)} model folders found): "
                        "reinstall isla-nnunet, or pass -m MODEL_FOLDER")
    return folders[0]


def is_shipped(folder: str | os.PathLike, root: str | os.PathLike = SHIPPED_ROOT) -> bool:
    """Whether ``folder`` is a model folder inside ``root`` (the package's own model)."""
    folder, root = Path(folder).resolve(), Path(root).resolve()
    return root in folder.parents


def _plain(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def slim_checkpoint(checkpoint: Mapping) -> dict:
    """The prediction part of an nnU-Net checkpoint, float weights in float16, numpy scalars as Python.

    Args:
        checkpoint: a dict as ``nnUNetTrainer.save_checkpoint`` writes it.

    Raises:
        ISLAError: a key prediction needs is missing.
    """
    import torch

    missing = [k for k in PREDICTION_KEYS if k not in checkpoint]
    if missing:
        raise ISLAError(f"checkpoint lacks {', '.join(missing)}: give a checkpoint written by nnUNetv2_train")
    weights = {name: (t.detach().to(torch.float16) if t.is_floating_point() else t.detach()).contiguous()
               for name, t in checkpoint["network_weights"].items()}
    return {"network_weights": weights, **{k: _plain(checkpoint[k]) for k in PREDICTION_KEYS[1:]}}


def sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pack_model(trained: str | os.PathLike, into: str | os.PathLike, fold: int = SHIPPED_FOLD,
               checkpoint: str = SHIPPED_CHECKPOINT) -> Path:
    """Copy one fold of a trained-model folder into ``into`` as a slim, float16 model folder.

    The copy is assembled in a hidden folder and renamed into place, replacing any model folder already
    in ``into``, so ``into`` never holds a half-written model.

    Returns:
        the new ``into/<Trainer__Plans__configuration>`` folder.

    Raises:
        ISLAError: ``trained`` is not a trained-model folder with ``fold_<fold>/<checkpoint>``.
    """
    import torch

    from isla_nnunet.prediction.model_checks import check_model_folder

    info = check_model_folder(trained, [fold], checkpoint)
    into = Path(into)
    into.mkdir(parents=True, exist_ok=True)
    staging = into / f".{info.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        (staging / f"fold_{SHIPPED_FOLD}").mkdir(parents=True)
        for name in ("plans.json", "dataset.json"):
            shutil.copyfile(info.folder / name, staging / name)
        state = load_checkpoint(info.folder / f"fold_{fold}" / checkpoint)
        torch.save(slim_checkpoint(state), staging / f"fold_{SHIPPED_FOLD}" / SHIPPED_CHECKPOINT)
        # Old models are renamed aside before the new one goes in, so a failure leaves one of the two in place.
        retired = [p for p in into.iterdir() if p.is_dir() and not p.name.startswith(".")]
        for old in retired:
            os.replace(old, into / f".{old.name}.{uuid.uuid4().hex[:8]}.old")
        target = into / info.name
        os.replace(staging, target)
        for old in into.glob(".*.old"):
            shutil.rmtree(old)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
