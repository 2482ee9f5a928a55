"""Attention coefficients of a trained ISLA model for one case, written as images (Roca et al., Appendix E).

ISLA's Appendix E shows the AGs coefficients of ISLA-B at each U-Net level, trilinearly upsampled to
the image grid. :func:`export_attention_maps` does that for any trained attention variant:

1. load the model folder with nnU-Net's ``nnUNetPredictor`` (works on the CPU; the trainer is found
   through ``nnUNet_extTrainer``, as for ``nnUNetv2_predict``);
2. take one case, either raw images on the reference grid (one file per channel, preprocessed with
   the model's own plans) or a case from ``nnUNet_preprocessed``, and put it back into its full frame;
3. run the network once with forward hooks on its attention modules
   (:func:`isla_nnunet.networks.attention.capture_attention_maps`);
4. write every spatial map (AGs, AGh, CBAM) resampled trilinearly to the image grid as
   ``<case>_<slot>_level<L>_<kind>.nii.gz`` (level 1 = full resolution; an AGh map has one volume per
   encoder channel), and the per-channel weights (SE, CBAM) to ``<case>_channel_weights.json``.

Example (shell)::

    isla attention-maps -m $nnUNet_results/Dataset101_X/ISLATrainer_B__ISLAPlans__3d_fullres -f 0 \\
        -i case_0000.nii.gz case_0001.nii.gz -o attention/
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

from isla_nnunet.errors import ISLAError
from isla_nnunet.io.atomic import atomic_output
from isla_nnunet.io.checkpoints import FINAL_CHECKPOINT
from isla_nnunet.io.images import image_suffix, read_image, write_image
from isla_nnunet.networks.attention.capture import AttentionMap, capture_attention_maps, coefficient_modules
from isla_nnunet.networks.attention.coefficients import resample_linear
from isla_nnunet.prediction.model_checks import check_model_folder
from isla_nnunet.prediction.models import load_model, resolve_device
from isla_nnunet.training.full_frame import uncrop

CHECKPOINT = FINAL_CHECKPOINT
_PREPROCESSED_SUFFIXES = (".b2nd", ".npz")


def load_predictor(model_folder: str | os.PathLike, fold: int | str | None = None,
                   checkpoint_name: str = CHECKPOINT, device: str = "cpu"):
    """An initialised ``nnUNetPredictor`` for one fold of a trained model folder (the first fold found
    when ``fold`` is None), checked and loaded as ``isla predict`` loads models, in float32.

    Raises:
        ISLAError: see :func:`~isla_nnunet.prediction.model_checks.check_model_folder` and
            :func:`~isla_nnunet.prediction.models.load_model`.
    """
    info = check_model_folder(model_folder, None if fold is None else [fold], checkpoint_name)
    # Attention maps are measurements: bf16 would round each coefficient to 3 significant digits.
    model = load_model(dataclasses.replace(info, folds=info.folds[:1]), resolve_device(device), precision="fp32")
    return model.predictor


def _identifier(path: Path) -> str:
    name = path.name[: -len(image_suffix(path))] if image_suffix(path) else path.stem
    return re.sub(r"_\d{4}$", "", name)


def _preprocess_raw(predictor, images: Sequence[str | os.PathLike]) -> tuple[np.ndarray, dict]:
    n_channels = len(predictor.dataset_json["channel_names"])
    if len(images) != n_channels:
        names = ", ".join(predictor.dataset_json["channel_names"].values())
        raise ISLAError(f"the model takes {n_channels} input images per case ({names}), got {len(images)}: "
                        "pass one file per channel in that order")
    for path in images:
        read_image(path)  # one-line errors for missing or unreadable files
    preprocessor = predictor.configuration_manager.preprocessor_class(verbose=False)
    data, seg, properties = preprocessor.run_case([str(p) for p in images], None, predictor.plans_manager,
                                                  predictor.configuration_manager, predictor.dataset_json)
    if tuple(data.shape[1:]) != tuple(properties["shape_after_cropping_and_before_resampling"]):
        raise ISLAError(f"{Path(images[0]).name} is not at the model's spacing "
                        f"{predictor.configuration_manager.spacing} (z, y, x) mm: bring the case onto the "
                        "reference grid with `isla convert` first")
    return uncrop(data, seg, properties)[0], properties


def _load_preprocessed(path: Path) -> tuple[np.ndarray, dict]:
    from nnunetv2.training.dataloading.nnunet_dataset import nnUNetDatasetBlosc2, nnUNetDatasetNumpy

    if path.suffix not in _PREPROCESSED_SUFFIXES or not path.is_file():
        raise ISLAError(f"{path} is not a preprocessed nnU-Net case: give nnUNet_preprocessed/<dataset>/"
                        "<data identifier>/<case>.b2nd (or .npz)")
    dataset_class = nnUNetDatasetBlosc2 if path.suffix == ".b2nd" else nnUNetDatasetNumpy
    identifier = path.name[: -len(path.suffix)]
    data, seg, _, properties = dataset_class(str(path.parent), [identifier]).load_case(identifier)
    return uncrop(data, seg, properties)[0], properties


def _reference_geometry(properties: dict, shape_zyx: Sequence[int]) -> sitk.Image:
    """An empty image carrying the case's original grid (nnU-Net stores it as ``sitk_stuff``)."""
    reference = sitk.Image([int(s) for s in shape_zyx[::-1]], sitk.sitkUInt8)
    stuff = properties.get("sitk_stuff")
    if stuff:
        reference.SetSpacing(stuff["spacing"])
        reference.SetOrigin(stuff["origin"])
        reference.SetDirection(stuff["direction"])
    else:
        reference.SetSpacing([float(s) for s in properties["spacing"][::-1]])
    return reference


def _check_divisible(shape: Sequence[int], network, name: str) -> None:
    total = np.prod(np.asarray(getattr(network, "strides", [[1] * len(shape)])), axis=0)
    if any(s % t for s, t in zip(shape, total, strict=True)):
        raise ISLAError(f"{name} is {'x'.join(map(str, shape))} voxels (z, y, x), which the network's "
                        f"down-sampling by {'x'.join(map(str, total))} cannot divide: use a case on the "
                        "reference grid (`isla convert`)")


def maps_on_grid(maps: Sequence[AttentionMap], shape: Sequence[int]) -> list[AttentionMap]:
    """Spatial maps resampled (bi/trilinearly) onto ``shape``; channel weights are left as they are."""
    return [AttentionMap(m.slot, m.level, m.kind, resample_linear(m.coefficients, shape)) if m.is_spatial
            else m for m in maps]


def write_attention_maps(maps: Sequence[AttentionMap], reference: sitk.Image,
                         output_folder: str | os.PathLike, case_id: str,
                         transpose_backward: Sequence[int] | None = None) -> list[Path]:
    """Write the first sample of each map: spatial maps as NIfTI on ``reference``'s grid, channel weights
    to one JSON file.

    Args:
        maps: as returned by :func:`maps_on_grid` (spatial maps already on the network input grid).
        reference: image whose size, spacing, origin and direction the spatial maps take.
        output_folder: created if missing; files are written atomically.
        case_id: file-name prefix.
        transpose_backward: nnU-Net's axis order from the network frame back to the image (None: identity).

    Returns:
        The written paths, NIfTI files first.

    Raises:
        ISLAError: a spatial map does not match ``reference``'s size.
    """
    folder = Path(output_folder)
    axes = [0] + [a + 1 for a in transpose_backward] if transpose_backward is not None else None
    paths, channel_weights = [], {}
    for m in maps:
        array = m.coefficients[0].numpy().astype(np.float32)
        if not m.is_spatial:
            channel_weights[m.name] = [round(float(v), 7) for v in array.reshape(-1)]
            continue
        array = np.transpose(array, axes) if axes is not None else array
        if tuple(array.shape[1:]) != tuple(reference.GetSize()[::-1]):
            raise ISLAError(f"attention map {m.name} is {array.shape[1:]} voxels but the image grid is "
                            f"{reference.GetSize()[::-1]} (z, y, x): resample them with maps_on_grid first")
        volumes = []
        for channel in array:
            volume = sitk.GetImageFromArray(channel)
            volume.CopyInformation(reference)
            volumes.append(volume)
        image = volumes[0] if len(volumes) == 1 else sitk.JoinSeries(volumes)
        paths.append(write_image(image, folder / f"{case_id}_{m.name}.nii.gz"))
    if channel_weights:
        target = folder / f"{case_id}_channel_weights.json"
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_output(target) as tmp:
            tmp.write_text(json.dumps(channel_weights, indent=1) + "\n")
        paths.append(target)
    return paths


def export_attention_maps(model_folder: str | os.PathLike, output_folder: str | os.PathLike,
                          images: Sequence[str | os.PathLike] | None = None,
                          preprocessed: str | os.PathLike | None = None, fold: int | str | None = None,
                          checkpoint_name: str = CHECKPOINT, case_id: str | None = None,
                          device: str = "cpu") -> list[Path]:
    """Attention maps of a trained model for one case, written to ``output_folder`` (module docs).

    Args:
        model_folder: nnU-Net training output folder (holds plans.json, dataset.json, fold_X/).
        output_folder: where the maps go.
        images: the case's raw images, one per channel in dataset.json order, on the reference grid.
        preprocessed: alternatively, a preprocessed case (``.b2nd``/``.npz`` beside its ``.pkl``).
        fold, checkpoint_name: which checkpoint to load (default: first fold found, final checkpoint).
        case_id: file-name prefix (default: from the input file name).
        device: torch device for the forward pass.

    Returns:
        The written files.

    Raises:
        ISLAError: bad inputs (see the helpers), or a model without attention modules.
    """
    if (images is None) == (preprocessed is None):
        raise ISLAError("give either the case's images (-i) or one preprocessed case (--preprocessed)")
    predictor = load_predictor(model_folder, fold, checkpoint_name, device)
    network = predictor.network
    try:
        has_attention = bool(coefficient_modules(network))
    except TypeError:
        has_attention = False
    if not has_attention:
        raise ISLAError(f"the model ({predictor.trainer_name}) has no attention modules: attention maps "
                        "exist for the SE, AGs, AGh, CBAM and SEAGs variants")
    if images is not None:
        images = [Path(p) for p in images]
        data, properties = _preprocess_raw(predictor, images)
        case_id = case_id or _identifier(images[0])
    else:
        path = Path(preprocessed)
        data, properties = _load_preprocessed(path)
        case_id = case_id or path.name[: -len(path.suffix)]
    _check_divisible(data.shape[1:], network, case_id)
    x = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32))[None].to(predictor.device)
    maps = maps_on_grid(capture_attention_maps(network.to(predictor.device), x), data.shape[1:])
    transpose_backward = list(predictor.plans_manager.transpose_backward)
    shape_image = [data.shape[1:][a] for a in transpose_backward]
    reference = _reference_geometry(properties, shape_image)
    return write_attention_maps(maps, reference, output_folder, case_id, transpose_backward)
