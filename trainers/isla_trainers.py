"""ISLA trainers for nnU-Net's ``nnUNet_extTrainer`` lookup; the classes live in isla_nnunet.training."""

from isla_nnunet.training.variants import *  # noqa: F403
