"""Checks of a trained nnU-Net model folder before any weight is read (no torch import).

A model for ``isla predict`` (and ``isla attention-maps``) is an nnU-Net trained-model folder
``Trainer__Plans__configuration`` holding ``plans.json``, ``dataset.json`` and
``fold_N/checkpoint_final.pth``. Each failure is one :class:`~isla_nnunet.errors.ISLAError` line:

- ``dataset.json``: two input channels named DWI and ADC in that order (what ``isla convert`` writes),
  or those two and their mirror images DWI_sym, ADC_sym (``isla add-symmetric-channels``, Clèrigues
  et al.), and the labels ``{"background": 0, "lesion": 1}``;
- the configuration in the plans: target spacing equal to the ISLA reference grid's (6 x 0.9 x 0.9 mm,
  z, y, x) and a patch no larger than the grid, i.e. a model trained on reference-space data;
- the requested folds exist with the checkpoint file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from isla_nnunet import reference
from isla_nnunet.errors import ISLAError
from isla_nnunet.io.checkpoints import FINAL_CHECKPOINT, check_checkpoint_name
from isla_nnunet.nnunet.layout import CHANNEL_NAMES, LABELS, PATCH_NETWORK_CLASS, SYMMETRIC_CHANNEL_NAMES

DEFAULT_CHECKPOINT = FINAL_CHECKPOINT


@dataclass(frozen=True)
class ModelInfo:
    """A checked model folder (no weights loaded).

    Attributes:
        name: the folder name (``Trainer__Plans__configuration``).
        folder: the folder holding plans.json (inside the temporary folder for a zip).
        source: what the user gave (folder or zip path).
        folds: folds used, as nnU-Net names them (ints, or "all").
        checkpoint: checkpoint file name inside each fold folder.
        symmetric_channels: the model also reads the mirrored DWI and ADC (channels 2 and 3).
        patch_model: its plans build Clèrigues et al.'s patch network (dense patch inference).
    """

    name: str
    folder: Path
    source: Path
    folds: tuple
    checkpoint: str
    symmetric_channels: bool = False
    patch_model: bool = False

    def checkpoint_files(self) -> list[Path]:
        """The checkpoint of every fold used, in fold order."""
        return [self.folder / f"fold_{fold}" / self.checkpoint for fold in self.folds]

    def to_dict(self) -> dict:
        return {"name": self.name, "source": os.fspath(self.source), "folds": list(self.folds),
                "checkpoint": self.checkpoint, "symmetric_channels": self.symmetric_channels}


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


def check_dataset_json(dataset_json: dict, source: str | os.PathLike) -> bool:
    """Raise unless the model reads (DWI, ADC [, DWI_sym, ADC_sym]) and segments one lesion label.

    Returns:
        Whether the model reads the symmetric channels too.

    Example:
        >>> check_dataset_json({"channel_names": {"0": "DWI", "1": "ADC"},
        ...                     "labels": {"background": 0, "lesion": 1}}, "m")
        False
        >>> check_dataset_json({"channel_names": {"0": "DWI", "1": "ADC", "2": "DWI_sym", "3": "ADC_sym"},
        ...                     "labels": {"background": 0, "lesion": 1}}, "m")
        True
        >>> check_dataset_json({"channel_names": {"0": "T1"}, "labels": {"background": 0, "lesion": 1}},
        ...                    "m")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        isla_nnunet.errors.ISLAError: model m reads the channels ['T1'], not ['DWI', 'ADC'] ...
    """
    channels = dataset_json.get("channel_names", dataset_json.get("modality", {}))
    try:
        names = [str(channels[k]) for k in sorted(channels, key=int)]
    except (TypeError, ValueError):
        names = [str(v) for v in (channels.values() if isinstance(channels, dict) else [])]
    read = [n.strip().upper() for n in names]
    if read not in ([v.upper() for v in CHANNEL_NAMES.values()], [v.upper() for v in SYMMETRIC_CHANNEL_NAMES.values()]):
        raise ISLAError(f"model {source} reads the channels {names}, not {list(CHANNEL_NAMES.values())} (or "
                        f"{list(SYMMETRIC_CHANNEL_NAMES.values())}): predict with a model trained on data from "
                        "isla convert")
    labels = dataset_json.get("labels", {})
    if not isinstance(labels, dict) or any(isinstance(v, list) for v in labels.values()) or \
            {str(k): int(v) for k, v in labels.items()} != LABELS:
        raise ISLAError(f"model {source} segments the labels {labels}, not {LABELS}: "
                        "predict with an ISLA lesion model")
    return len(read) == len(SYMMETRIC_CHANNEL_NAMES)


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
    symmetric = check_dataset_json(_read_json(folder / "dataset.json", "dataset.json", source), source)
    plans = _read_json(folder / "plans.json", "plans.json", source)
    named = _folder_configuration(folder.name, plans)
    patch_model = False
    if named is not None:
        check_configuration(named[1].get("spacing", []), named[1].get("patch_size", []), source, named[0])
        patch_model = (named[1].get("architecture") or {}).get("network_class_name") == PATCH_NETWORK_CLASS
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
    return ModelInfo(folder.name, folder, source, tuple(chosen), checkpoint, symmetric, patch_model)
