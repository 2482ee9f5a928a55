"""The ISLA training recipe as an nnU-Net trainer (Roca et al., §3.2.4).

Adam, learning rate decayed linearly from 5e-4 to 5e-6 over 300 epochs, an epoch being one pass over
the training cases, ISLA's augmentation only, the ISLA U-Net from the plans, ISLA's loss with its
deep-supervision weights against the full-resolution target, mixed precision on CUDA (nnU-Net's float16)
and on CPUs with native bf16 (bf16 autocast, :mod:`isla_nnunet.networks.cpu_execution`).

Training cases are restored to their place on the reference frame (:mod:`~isla_nnunet.training.full_frame`)
and drawn once per pass (:mod:`~isla_nnunet.training.one_pass`); nnU-Net's end-of-training validation
keeps nnU-Net's own (cropped) cases, so ``fold_X/validation`` holds what ``nnUNetv2_predict`` writes.

Variants differ only in class attributes (loss, block, deep supervision, attention, epochs) and are
generated in :mod:`isla_nnunet.training.variants`; nnU-Net finds them by name through the thin
modules in ``trainers/``.
"""

from __future__ import annotations

import math
import os

import torch
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
from nnunetv2.utilities.default_n_proc_DA import get_allowed_n_proc_DA
from nnunetv2.utilities.get_network_from_plans import get_network_from_plans

from isla_nnunet import losses
from isla_nnunet.io import checkpoints
from isla_nnunet.networks.cpu_execution import CPUExecution
from isla_nnunet.networks.presets import requires_import, with_attention, with_block
from isla_nnunet.training.augmentation import LEFT_RIGHT_AXIS, training_transforms
from isla_nnunet.training.full_frame import full_frame_dataset_class
from isla_nnunet.training.one_pass import OnePassDataLoader, augmenter
from isla_nnunet.training.schedule import LinearDecayLR

# nnU-Net's own default device for trainers.
_DEFAULT_DEVICE = torch.device("cuda")
LOSSES = {"UFL": losses.AsymmetricUnifiedFocalLoss, "GDLBCE": losses.GeneralizedDiceBCELoss}


class ISLATrainer(nnUNetTrainer):
    """Base of every ISLA trainer; the plain class trains UFL + StdUNet + deep supervision, no attention."""

    loss_name = "UFL"
    block = "std"
    deep_supervision = True
    attention = "none"
    epochs = 300

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = _DEFAULT_DEVICE):
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.num_epochs = self.epochs
        # nnU-Net's names: a subclass that sets them in __init__ is obeyed by configure_optimizers.
        self.initial_lr = 5e-4
        self.final_lr = 5e-6
        self.enable_deep_supervision = self.deep_supervision
        # The patch is the whole volume: there is nothing to oversample.
        self.oversample_foreground_percent = 0.0

    @classmethod
    def network_arch_kwargs(cls, arch_kwargs: dict) -> dict:
        """The plans' ``arch_kwargs`` adapted to this variant (block type and attention)."""
        return with_attention(with_block(arch_kwargs, cls.block), cls.attention)

    @classmethod
    def build_network_architecture(cls, plans_manager, configuration_manager, num_input_channels,
                                   num_output_channels, enable_deep_supervision: bool = True) -> torch.nn.Module:
        arch_kwargs = cls.network_arch_kwargs(configuration_manager.network_arch_init_kwargs)
        imports = requires_import(arch_kwargs, configuration_manager.network_arch_init_kwargs_req_import)
        network = get_network_from_plans(configuration_manager.network_arch_class_name, arch_kwargs,
                                         imports, num_input_channels, num_output_channels, allow_init=True,
                                         deep_supervision=enable_deep_supervision)
        # nnUNetv2_train and nnUNetv2_predict both build the network here: both get the CPU setting.
        return CPUExecution.from_environment().apply(network)

    def _get_deep_supervision_scales(self):
        # ISLA upsamples every head to full resolution, so every head gets the full-resolution target.
        if not self.enable_deep_supervision:
            return None
        return [[1.0, 1.0, 1.0]] * len(self.configuration_manager.network_arch_init_kwargs["features_per_stage"])

    def _build_loss(self):
        loss = losses.BinaryFromTwoClassLogits(LOSSES[self.loss_name]())
        if self.enable_deep_supervision:
            return losses.ISLADeepSupervisionLoss(loss)
        return loss

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.network.parameters(), lr=self.initial_lr)
        scheduler = LinearDecayLR(optimizer, self.initial_lr, self.final_lr, self.num_epochs)
        return optimizer, scheduler

    def configure_rotation_dummyDA_mirroring_and_inital_patch_size(self):
        # The patch is the whole volume, so the loader needs no margin for rotation; test-time
        # mirroring (when asked for) uses the left-right axis only.
        patch_size = tuple(self.configuration_manager.patch_size)
        mirror_axes = (LEFT_RIGHT_AXIS,)
        self.inference_allowed_mirroring_axes = mirror_axes
        return None, False, patch_size, mirror_axes

    @staticmethod
    def get_training_transforms(patch_size, rotation_for_DA, deep_supervision_scales, mirror_axes,
                                do_dummy_2d_data_aug, use_mask_for_norm=None, is_cascaded=False,
                                foreground_labels=None, regions=None, ignore_label=None):
        return training_transforms(patch_size, len(use_mask_for_norm), deep_supervision_scales)

    def initialize(self):
        super().initialize()
        # Training reads whole reference frames; nnU-Net's final validation keeps self.dataset_class.
        self.training_dataset_class = full_frame_dataset_class(self.dataset_class)

    def load_checkpoint(self, filename_or_checkpoint) -> None:
        # nnU-Net 2.8.1 unpickles the file (weights_only=False) and cannot take a dict: the file is read
        # first as tensors and numbers only, so one that would run code is refused before nnU-Net opens it.
        if isinstance(filename_or_checkpoint, (str, os.PathLike)):
            checkpoints.load_checkpoint(filename_or_checkpoint)
        super().load_checkpoint(filename_or_checkpoint)

    def get_tr_and_val_datasets(self):
        tr_keys, val_keys = self.do_split()
        dataset_tr, dataset_val = (
            self.training_dataset_class(self.preprocessed_dataset_folder, keys,
                                        folder_with_segs_from_previous_stage=self.folder_with_segs_from_previous_stage)
            for keys in (tr_keys, val_keys))
        # ISLA's epoch is one pass over the training cases (nnU-Net's is 250 iterations).
        self.num_iterations_per_epoch = max(1, math.ceil(len(dataset_tr.identifiers) / self.batch_size))
        self.num_val_iterations_per_epoch = max(1, math.ceil(len(dataset_val.identifiers) / self.batch_size))
        return dataset_tr, dataset_val

    def get_dataloaders(self):
        # nnU-Net's version builds its loaders inline; this one differs in the loader class (one pass per
        # epoch instead of sampling with replacement) and takes the rest from the same trainer hooks.
        _, _, initial_patch_size, mirror_axes = self.configure_rotation_dummyDA_mirroring_and_inital_patch_size()
        patch_size = self.configuration_manager.patch_size
        scales = self._get_deep_supervision_scales()
        labels = self.label_manager
        tr_transforms = self.get_training_transforms(
            patch_size, None, scales, mirror_axes, False,
            use_mask_for_norm=self.configuration_manager.use_mask_for_norm, is_cascaded=self.is_cascaded,
            foreground_labels=labels.foreground_labels)
        val_transforms = self.get_validation_transforms(scales, is_cascaded=self.is_cascaded,
                                                        foreground_labels=labels.foreground_labels)
        # nnU-Net's worker counts: none at all, or n for training and max(1, n // 2) for validation.
        workers = get_allowed_n_proc_DA()
        counts = (workers, max(1, workers // 2) if workers else 0)
        augmenters = [
            augmenter(OnePassDataLoader(dataset, self.batch_size, initial_patch_size, patch_size, labels,
                                        oversample_foreground_percent=self.oversample_foreground_percent,
                                        transforms=transforms, num_workers=n), n, self.device)
            for dataset, transforms, n in zip(self.get_tr_and_val_datasets(), (tr_transforms, val_transforms), counts,
                                              strict=True)]
        # nnU-Net draws (and discards) one batch here to start its workers; that would drop a batch of the
        # first pass, so the workers start with the first training step instead.
        return tuple(augmenters)
