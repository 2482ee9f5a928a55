"""Batches of unlabeled images for Mean Teacher: one spatial augmentation, two intensity augmentations.

Roca et al. (§3.2.6) apply the same spatial transformation (flip, translation, rotation) to the
student's and the teacher's view of a target-domain image, so that their probability maps stay
voxel-aligned, and independent intensity transformations (Gaussian noise, gamma) to each view. The
transforms are ISLA's own (:mod:`isla_nnunet.training.augmentation`) with the same ranges.

nnU-Net's data loader only carries ``image`` and ``segmentation``, so both views travel in one
image of 2C channels: channels [0, C) are the student's view, [C, 2C) the teacher's.
:func:`split_views` takes them apart again.
"""

from __future__ import annotations

import torch
from batchgeneratorsv2.transforms.base.basic_transform import BasicTransform
from batchgeneratorsv2.transforms.spatial.mirroring import MirrorTransform
from batchgeneratorsv2.transforms.utils.compose import ComposeTransforms

from isla_nnunet.training.augmentation import (
    LEFT_RIGHT_AXIS,
    finishing_transforms,
    intensity_transforms,
    spatial_transform,
)


class TwoIntensityViews(BasicTransform):
    """image (C, *S) -> (2C, *S): two copies, each through its own draw of ISLA's noise and gamma.

    Args:
        view_transforms: the intensity pipeline applied to each copy separately (default ISLA's).
    """

    def __init__(self, view_transforms: list[BasicTransform] | None = None):
        super().__init__()
        self.views = ComposeTransforms(intensity_transforms() if view_transforms is None else view_transforms)

    def _apply_to_image(self, img: torch.Tensor, **params) -> torch.Tensor:
        student = self.views(image=img.clone())["image"]
        teacher = self.views(image=img.clone())["image"]
        return torch.cat([student, teacher])

    def _apply_to_segmentation(self, segmentation: torch.Tensor, **params) -> torch.Tensor:
        return segmentation


def unlabeled_transforms(patch_size, n_channels: int) -> ComposeTransforms:
    """Shared spatial augmentation, then two intensity views, then non-brain voxels of both set to 0."""
    return ComposeTransforms([
        spatial_transform(patch_size),
        MirrorTransform(allowed_axes=(LEFT_RIGHT_AXIS,)),
        TwoIntensityViews(),
        *finishing_transforms(2 * n_channels),
    ])


def split_views(data: torch.Tensor, n_channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 2C, *S) -> (student view (B, C, *S), teacher view (B, C, *S)).

    Raises:
        ValueError: ``data`` does not have 2C channels.
    """
    if data.shape[1] != 2 * n_channels:
        raise ValueError(f"expected {2 * n_channels} channels (student and teacher views of {n_channels}), "
                         f"got shape {tuple(data.shape)}")
    return data[:, :n_channels], data[:, n_channels:]


def unlabeled_batches(dataset, batch_size: int, patch_size, label_manager, n_channels: int,
                      num_processes: int, pin_memory: bool = False):
    """An endless iterator of ``{"data": (B, 2C, *S), ...}`` batches drawn at random from ``dataset``.

    Args:
        dataset: an nnU-Net dataset of preprocessed unlabeled cases (full-frame class, see
            :mod:`isla_nnunet.training.full_frame`).
        batch_size: images per batch (Mean Teacher uses the labeled batch size).
        patch_size: the plans' patch size (the whole volume for ISLA).
        label_manager: the trainer's nnU-Net label manager (the loader needs one; labels are unused).
        n_channels: input channels C of one view.
        num_processes: augmentation workers; 0 runs in the calling process (nnUNet_n_proc_DA=0).
    """
    from batchgenerators.dataloading.nondet_multi_threaded_augmenter import NonDetMultiThreadedAugmenter
    from batchgenerators.dataloading.single_threaded_augmenter import SingleThreadedAugmenter
    from nnunetv2.training.dataloading.data_loader import nnUNetDataLoader

    patch_size = tuple(patch_size)
    loader = nnUNetDataLoader(dataset, batch_size, patch_size, patch_size, label_manager,
                              oversample_foreground_percent=0.0, sampling_probabilities=None, pad_sides=None,
                              transforms=unlabeled_transforms(patch_size, n_channels))
    if num_processes == 0:
        return SingleThreadedAugmenter(loader, None)
    return NonDetMultiThreadedAugmenter(data_loader=loader, transform=None, num_processes=num_processes,
                                        num_cached=max(2, num_processes), seeds=None, pin_memory=pin_memory,
                                        wait_time=0.002)
