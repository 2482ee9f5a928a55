"""ISLA's data augmentation and nothing else (Roca et al., §3.2.4), from batchgeneratorsv2 transforms.

The z-scored images are first clipped to [-5, 5], as ISLA's preprocessing does before any
augmentation (§3.2.1), so noise and gamma see the clipped intensities; then

* left-right flip with p = 0.5 (array axis 2 is x, left-right, in nnU-Net's (z, y, x) order);
* translation up to +-10, +-12, +-2 voxels in x, y, z;
* rotation up to +-15 degrees about the inferior-superior axis only (a rotation in the y-x plane);
* additive Gaussian noise on brain voxels, std drawn per image from U(0, 0.15);
* gamma drawn per image from U(0.8, 1.2) (intensities rescaled to [0, 1] for the power and the
  image's mean and std restored afterwards, batchgeneratorsv2's ``retain_stats``).

"Per image" is per channel: DWI and ADC are separate images. Noise and gamma reach the background
too, so the non-brain voxels are set back to zero afterwards (nnU-Net marks them with label -1).
"""

from __future__ import annotations

import math

import numpy as np
from batchgeneratorsv2.transforms.base.basic_transform import BasicTransform, ImageOnlyTransform
from batchgeneratorsv2.transforms.intensity.gamma import GammaTransform
from batchgeneratorsv2.transforms.intensity.gaussian_noise import GaussianNoiseTransform
from batchgeneratorsv2.transforms.spatial.mirroring import MirrorTransform
from batchgeneratorsv2.transforms.spatial.spatial import SpatialTransform
from batchgeneratorsv2.transforms.utils.compose import ComposeTransforms
from batchgeneratorsv2.transforms.utils.deep_supervision_downsampling import DownsampleSegForDSTransform
from batchgeneratorsv2.transforms.utils.nnunet_masking import MaskImageTransform
from batchgeneratorsv2.transforms.utils.remove_label import RemoveLabelTansform

from isla_nnunet.reference import Z_SCORE_CLIP

LEFT_RIGHT_AXIS = 2
TRANSLATION_VOXELS_ZYX = (2, 12, 10)
MAX_ROTATION_DEGREES = 15.0
NOISE_STD_RANGE = (0.0, 0.15)
GAMMA_RANGE = (0.8, 1.2)


def _rotation_about_inferior_superior(image=None, dim=None, **kwargs) -> float:
    # batchgeneratorsv2 asks for one angle per array axis; axis 0 (z) is the inferior-superior axis.
    if dim != 0:
        return 0.0
    limit = math.radians(MAX_ROTATION_DEGREES)
    return float(np.random.uniform(-limit, limit))


def spatial_transform(patch_size) -> SpatialTransform:
    """Rotation about z and a random translation of the whole-volume patch (no scaling, no elastic)."""
    # With random_crop, the patch centre is drawn uniformly in [d, shape - d]: d = shape/2 - t gives +-t voxels.
    centre_distance = [s / 2 - t for s, t in zip(patch_size, TRANSLATION_VOXELS_ZYX, strict=True)]
    return SpatialTransform(
        patch_size, patch_center_dist_from_border=centre_distance, random_crop=True,
        p_rotation=1.0, rotation=_rotation_about_inferior_superior, p_scaling=0.0,
        border_mode_seg="constant", padding_value_seg=-1,
    )


def intensity_transforms() -> list[BasicTransform]:
    return [
        GaussianNoiseTransform(noise_variance=NOISE_STD_RANGE, p_per_channel=1.0, synchronize_channels=False),
        GammaTransform(gamma=GAMMA_RANGE, p_invert_image=0.0, synchronize_channels=False, p_per_channel=1.0,
                       p_retain_stats=1.0),
    ]


class ClipIntensity(ImageOnlyTransform):
    """Clamp every image channel to ``[low, high]`` (segmentations untouched).

    Example:
        >>> import torch
        >>> ClipIntensity(-5.0, 5.0)(image=torch.tensor([[-7.0, 0.5, 9.0]]))["image"]
        tensor([[-5.0000,  0.5000,  5.0000]])
    """

    def __init__(self, low: float, high: float):
        super().__init__()
        if not low < high:
            raise ValueError(f"clip range must have low < high, got ({low}, {high})")
        self.low, self.high = float(low), float(high)

    def _apply_to_image(self, img, **params):
        return img.clamp(self.low, self.high)


def training_transforms(patch_size, n_channels: int, deep_supervision_scales=None) -> ComposeTransforms:
    """The full ISLA training pipeline for nnU-Net's data loader (seg channel 0 marks non-brain as -1)."""
    transforms = [ClipIntensity(*Z_SCORE_CLIP), spatial_transform(patch_size), *intensity_transforms(),
                  MirrorTransform(allowed_axes=(LEFT_RIGHT_AXIS,)),
                  *finishing_transforms(n_channels, deep_supervision_scales)]
    return ComposeTransforms(transforms)


def finishing_transforms(n_channels: int, deep_supervision_scales=None) -> list[BasicTransform]:
    """Zero the non-brain voxels, turn nnU-Net's -1 label into background, replicate targets for heads."""
    transforms = [
        MaskImageTransform(apply_to_channels=list(range(n_channels)), channel_idx_in_seg=0, set_outside_to=0),
        RemoveLabelTansform(-1, 0),
    ]
    if deep_supervision_scales is not None:
        transforms.append(DownsampleSegForDSTransform(ds_scales=deep_supervision_scales))
    return transforms
