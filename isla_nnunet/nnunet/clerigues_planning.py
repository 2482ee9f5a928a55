"""``isla plan --planner clerigues``: plans for Clèrigues et al.'s patch network at a dataset's own spacing.

The dataset keeps its own grid (nnU-Net's target spacing: the median of the cases'; ISLES'22 is 2 mm
isotropic, the paper's SISS 1 mm and SPES 2 mm), so no ISLA reference grid is needed. The
``3d_fullres`` configuration is nnU-Net's own (resampling, z-score normalisation, data identifier),
with three entries replaced: the patch (24 x 24 x 16 voxels, in nnU-Net's array order
``[16, 24, 24]``), the batch (16) and the architecture
(:class:`~isla_nnunet.networks.clerigues.CleriguesUNet`: 4 levels, 32 base filters, PReLU, dropout
0.2). The fixed small patch needs no ``3d_lowres`` configuration; the ``2d`` configuration nnU-Net
always writes is its own 2-D U-Net, not this method. Plans are named ``CleriguesPlans``.

Example (after ``isla convert`` or ``isla simulate`` wrote dataset 5)::

    isla plan --planner clerigues -d 5
    nnUNetv2_train 5 3d_fullres 0 -p CleriguesPlans -tr CleriguesTrainer
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from nnunetv2.experiment_planning.experiment_planners.default_experiment_planner import ExperimentPlanner

from isla_nnunet.errors import ISLAError
from isla_nnunet.networks.clerigues import DEFAULT_FEATURES
from isla_nnunet.nnunet import environment as nnunet_env
from isla_nnunet.nnunet.layout import LABELS, PATCH_NETWORK_CLASS

PLANS_NAME = "CleriguesPlans"
CONFIGURATION = "3d_fullres"
PATCH_SIZE_ZYX = (16, 24, 24)
BATCH_SIZE = 16
NETWORK_CLASS = PATCH_NETWORK_CLASS
DROPOUT = 0.2


def clerigues_architecture(features_per_stage=DEFAULT_FEATURES) -> dict:
    """The ``architecture`` entry of a CleriguesPlans configuration."""
    n = len(features_per_stage)
    return {
        "network_class_name": NETWORK_CLASS,
        "arch_kwargs": {
            "features_per_stage": [int(f) for f in features_per_stage],
            "strides": [[1, 1, 1]] + [[2, 2, 2]] * (n - 1),
            "kernel_size": 3,
            "conv_op": "torch.nn.modules.conv.Conv3d",
            "nonlin": "torch.nn.modules.activation.PReLU",
            "nonlin_kwargs": {},
            "dropout_op": "torch.nn.modules.dropout.Dropout",
            "dropout_op_kwargs": {"p": DROPOUT},
        },
        "_kw_requires_import": ["conv_op", "nonlin", "dropout_op"],
    }


class CleriguesPlanner(ExperimentPlanner):
    """nnU-Net's planner with the 3-D configuration replaced by Clèrigues et al.'s patch layout."""

    def __init__(self, dataset_name_or_id, gpu_memory_target_in_gb: float = 8,
                 preprocessor_name: str = "DefaultPreprocessor", plans_name: str = PLANS_NAME,
                 overwrite_target_spacing=None, suppress_transpose: bool = False):
        super().__init__(dataset_name_or_id, gpu_memory_target_in_gb, preprocessor_name, plans_name,
                         overwrite_target_spacing, suppress_transpose)
        # the patch is fixed and small by design: never a low-resolution configuration for it
        self.lowres_creation_threshold = 0.0

    def get_plans_for_configuration(self, spacing, median_shape, data_identifier, approximate_n_voxels_dataset,
                                    _cache) -> dict:
        configuration = super().get_plans_for_configuration(spacing, median_shape, data_identifier,
                                                            approximate_n_voxels_dataset, _cache)
        if len(spacing) != 3:
            return configuration
        configuration = copy.deepcopy(configuration)
        configuration.update(patch_size=list(PATCH_SIZE_ZYX), batch_size=BATCH_SIZE,
                             architecture=clerigues_architecture())
        return configuration


def check_raw_dataset(folder: Path) -> None:
    """Raise a one-line ISLAError unless ``folder`` is an nnU-Net raw dataset with one lesion label."""
    try:
        dataset_json = json.loads((folder / "dataset.json").read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ISLAError(f"cannot read {folder / 'dataset.json'} ({err}): write a valid nnU-Net dataset.json") from None
    labels = {k: v for k, v in dataset_json.get("labels", {}).items() if not isinstance(v, list)}
    if labels != LABELS:
        raise ISLAError(f"dataset.json labels are {labels}; this method segments one lesion class: use {LABELS}")
    if not any((folder / "imagesTr").glob(f"*{dataset_json.get('file_ending', '.nii.gz')}")):
        raise ISLAError(f"no training images in {folder / 'imagesTr'}: convert cases first with `isla convert`")


def plan_and_preprocess(dataset_id: int, num_processes: int = 2, verbose: bool = False) -> Path:
    """Fingerprint, plan (CleriguesPlans) and preprocess ``dataset_id`` at its own spacing; return the plans file."""
    from nnunetv2.experiment_planning.plan_and_preprocess_api import (
        extract_fingerprint_dataset,
        plan_experiment_dataset,
        preprocess_dataset,
    )

    from isla_nnunet.nnunet import planning

    nnunet_env.require("nnUNet_raw", "nnUNet_preprocessed")
    raw = planning.raw_dataset_folder(dataset_id)
    check_raw_dataset(raw)
    with planning.planning_threads():
        extract_fingerprint_dataset(dataset_id, num_processes=num_processes, check_dataset_integrity=True,
                                    clean=True, verbose=verbose)
        plan_experiment_dataset(dataset_id, CleriguesPlanner, overwrite_plans_name=PLANS_NAME)
    preprocess_dataset(dataset_id, PLANS_NAME, configurations=(CONFIGURATION,), num_processes=(num_processes,),
                       verbose=verbose)
    return nnunet_env.require("nnUNet_preprocessed")["nnUNet_preprocessed"] / raw.name / f"{PLANS_NAME}.json"
