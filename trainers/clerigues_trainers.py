"""Clèrigues et al. (2019) trainers for nnU-Net's ``nnUNet_extTrainer`` lookup (classes in isla_nnunet.training)."""

from isla_nnunet.training.clerigues import CleriguesTrainer, CleriguesTrainer_2epochs, CleriguesTrainer_CPU

__all__ = ["CleriguesTrainer", "CleriguesTrainer_2epochs", "CleriguesTrainer_CPU"]
