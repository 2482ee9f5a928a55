"""ISLA Mean Teacher trainers for nnU-Net's ``nnUNet_extTrainer`` lookup (classes in isla_nnunet.training)."""

from isla_nnunet.training.mean_teacher_variants import *  # noqa: F403
