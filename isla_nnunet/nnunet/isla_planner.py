"""The ISLA experiment planner: one ``3d_fullres`` configuration with ISLA's fixed layout.

Every case is already on the reference grid (192x224x32 voxels, 0.9x0.9x6 mm), so there is nothing
to adapt: spacing, the whole-volume patch, six levels with in-plane pooling, 4x4x2 kernels,
GroupNorm(8), LeakyReLU(0.3), per-channel z-score over the brain (nnU-Net's ZScoreNormalization
with the non-zero mask; the clip to [-5, 5] is the first training transform, before augmentation, and
the network's first operation, so it holds in training and prediction alike). Run through ``isla plan``
(nnU-Net only finds planners in its own package).
"""

from __future__ import annotations

import shutil
from os.path import join

import numpy as np
from nnunetv2.experiment_planning.experiment_planners.default_experiment_planner import ExperimentPlanner
from nnunetv2.paths import nnUNet_preprocessed
from nnunetv2.utilities.get_network_from_plans import get_network_from_plans

from isla_nnunet import reference
from isla_nnunet.errors import ISLAError
from isla_nnunet.networks.presets import (
    ATTENTION_SLOTS,
    DEFAULT_FEATURES,
    isla_arch_kwargs,
    requires_import,
    with_attention,
)
from isla_nnunet.networks.unet import ISLAUNet
from isla_nnunet.nnunet.isla_plans import CONFIGURATION, batch_size_for


def variant_network(architecture: dict, input_channels: int, attention: str) -> ISLAUNet:
    """The ISLA U-Net of these plans with one attention variant and deep supervision, built as the
    trainers build it (nnU-Net's ``get_network_from_plans``)."""
    kwargs = with_attention(architecture["arch_kwargs"], attention)
    return get_network_from_plans(architecture["network_class_name"], kwargs,
                                  requires_import(kwargs, architecture["_kw_requires_import"]), input_channels, 2,
                                  allow_init=False, deep_supervision=True)


def largest_feature_map_size(architecture: dict, input_channels: int) -> int:
    """Activation elements of one sample for the grid variant that keeps the most on these plans.

    Every ISLA trainer trains on the same ``ISLAPlans`` with its own attention and deep supervision
    (:mod:`isla_nnunet.training.variants`), so the batch is sized for the most demanding one (CBAM's
    maps on the full-resolution skips, with the default filters).
    """
    return max(variant_network(architecture, input_channels, attention)
               .compute_conv_feature_map_size(reference.SHAPE_ZYX) for attention in ATTENTION_SLOTS)


class ISLAPlanner(ExperimentPlanner):
    features_per_stage = DEFAULT_FEATURES
    # None: the batch nnU-Net's memory rule allows for the GPU memory target; a number fixes it.
    batch_size: int | None = None

    def determine_fullres_target_spacing(self) -> np.ndarray:
        return np.array(reference.SPACING_ZYX)

    def determine_normalization_scheme_and_whether_mask_is_used_for_norm(self):
        n = len(self.dataset_json["channel_names"])
        return ["ZScoreNormalization"] * n, [True] * n

    def get_plans_for_configuration(self, spacing, median_shape, data_identifier, approximate_n_voxels_dataset,
                                    _cache) -> dict:
        architecture = isla_arch_kwargs(self.features_per_stage)
        elements = largest_feature_map_size(architecture, len(self.dataset_json["channel_names"]))
        resampling_data, resampling_data_kwargs, resampling_seg, resampling_seg_kwargs = self.determine_resampling()
        resampling_prob, resampling_prob_kwargs = self.determine_segmentation_softmax_export_fn()
        normalization, use_mask = self.determine_normalization_scheme_and_whether_mask_is_used_for_norm()
        return {
            "data_identifier": data_identifier,
            "preprocessor_name": self.preprocessor_name,
            "batch_size": self.batch_size or batch_size_for(elements, self.UNet_vram_target_GB),
            "patch_size": list(reference.SHAPE_ZYX),
            "median_image_size_in_voxels": [int(round(s)) for s in median_shape],
            "spacing": [float(s) for s in spacing],
            "normalization_schemes": normalization,
            "use_mask_for_norm": use_mask,
            "resampling_fn_data": resampling_data.__name__,
            "resampling_fn_seg": resampling_seg.__name__,
            "resampling_fn_data_kwargs": resampling_data_kwargs,
            "resampling_fn_seg_kwargs": resampling_seg_kwargs,
            "resampling_fn_probabilities": resampling_prob.__name__,
            "resampling_fn_probabilities_kwargs": resampling_prob_kwargs,
            "architecture": architecture,
            "batch_dice": False,
        }

    def plan_experiment(self) -> dict:
        """Plans with only the ISLA ``3d_fullres`` configuration (nnU-Net's would add 2d and lowres).

        Follows the plans layout of nnU-Net 2.8.1's ``ExperimentPlanner.plan_experiment``; the keys are
        checked against the installed nnU-Net's own plans in tests/nnunet/test_planning.py.
        """
        # nnU-Net's rule puts the coarsest axis first; on the reference grid that is z, already first.
        transpose_forward, transpose_backward = self.determine_transpose()
        if list(transpose_forward) != [0, 1, 2]:
            raise ISLAError(f"cases of {self.dataset_name} are not on ISLA's reference grid (z is not the coarsest "
                            "axis): convert them with `isla convert`")
        spacing = self.determine_fullres_target_spacing()
        median_shape = np.median(self.dataset_fingerprint["shapes_after_crop"], 0)
        configuration = self.get_plans_for_configuration(spacing, median_shape,
                                                         self.generate_data_identifier(CONFIGURATION), 0.0, {})
        shutil.copy(join(self.raw_dataset_folder, "dataset.json"),
                    join(nnUNet_preprocessed, self.dataset_name, "dataset.json"))
        plans = {
            "dataset_name": self.dataset_name,
            "plans_name": self.plans_identifier,
            "original_median_spacing_after_transp":
                [float(s) for s in np.median(self.dataset_fingerprint["spacings"], 0)],
            "original_median_shape_after_transp": [int(round(s)) for s in median_shape],
            "image_reader_writer": self.determine_reader_writer().__name__,
            "transpose_forward": [int(i) for i in transpose_forward],
            "transpose_backward": [int(i) for i in transpose_backward],
            "configurations": {CONFIGURATION: configuration},
            "experiment_planner_used": self.__class__.__name__,
            "label_manager": "LabelManager",
            "foreground_intensity_properties_per_channel":
                self.dataset_fingerprint["foreground_intensity_properties_per_channel"],
        }
        self.plans = plans
        self.save_plans(plans)
        return plans
