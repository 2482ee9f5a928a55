"""ISLA plans as the ISLA planner writes them (architecture from ``isla_arch_kwargs``), without a dataset."""

from __future__ import annotations

import os

from nnunetv2.utilities.plans_handling.plans_handler import ConfigurationManager, PlansManager

from isla_nnunet import reference
from isla_nnunet.networks.presets import DEFAULT_FEATURES, isla_arch_kwargs
from isla_nnunet.nnunet import environment as nnunet_env
from isla_nnunet.nnunet.isla_plans import CONFIGURATION, PLANS_NAME

CHANNELS = {"0": "DWI", "1": "ADC"}


def _resampling(is_seg: bool, order: int) -> dict:
    return {"is_seg": is_seg, "order": order, "order_z": 0, "force_separate_z": None}


def isla_plans(features=DEFAULT_FEATURES, dataset_name: str = "Dataset990_IslaNetworks") -> dict:
    configuration = {
        "data_identifier": f"{PLANS_NAME}_{CONFIGURATION}",
        "preprocessor_name": "DefaultPreprocessor",
        "batch_size": 2,
        "patch_size": list(reference.SHAPE_ZYX),
        "median_image_size_in_voxels": list(reference.SHAPE_ZYX),
        "spacing": list(reference.SPACING_ZYX),
        "normalization_schemes": ["ZScoreNormalization"] * len(CHANNELS),
        "use_mask_for_norm": [True] * len(CHANNELS),
        "resampling_fn_data": "resample_data_or_seg_to_shape",
        "resampling_fn_seg": "resample_data_or_seg_to_shape",
        "resampling_fn_data_kwargs": _resampling(False, 3),
        "resampling_fn_seg_kwargs": _resampling(True, 1),
        "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
        "resampling_fn_probabilities_kwargs": _resampling(False, 1),
        "architecture": isla_arch_kwargs(features),
        "batch_dice": False,
    }
    intensity = {"mean": 0.0, "median": 0.0, "std": 1.0, "min": -5.0, "max": 5.0, "percentile_99_5": 5.0,
                 "percentile_00_5": -5.0}
    return {
        "dataset_name": dataset_name,
        "plans_name": PLANS_NAME,
        "original_median_spacing_after_transp": list(reference.SPACING_ZYX),
        "original_median_shape_after_transp": list(reference.SHAPE_ZYX),
        "image_reader_writer": "SimpleITKIO",
        "transpose_forward": [0, 1, 2],
        "transpose_backward": [0, 1, 2],
        "configurations": {CONFIGURATION: configuration},
        "experiment_planner_used": "ISLAPlanner",
        "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": {k: dict(intensity) for k in CHANNELS},
    }


def dataset_json() -> dict:
    return {"channel_names": dict(CHANNELS), "labels": {"background": 0, "lesion": 1}, "numTraining": 0,
            "file_ending": ".nii.gz"}


def managers(features=DEFAULT_FEATURES) -> tuple[PlansManager, ConfigurationManager]:
    plans_manager = PlansManager(isla_plans(features))
    return plans_manager, plans_manager.get_configuration(CONFIGURATION)


def environ_with_trainers() -> dict[str, str]:
    """The environment with ``nnUNet_extTrainer`` listing the ISLA trainers, as `isla env` prints it."""
    return {**os.environ, "nnUNet_extTrainer": str(nnunet_env.trainers_folder())}
