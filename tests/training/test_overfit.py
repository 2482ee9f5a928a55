"""A small ISLA U-Net learns two simulated cases through ISLA's loss and augmentation pipeline.

The loop is nnU-Net's training step in miniature, with this project's parts: the cases are z-scored
over the brain with -1 marking non-brain labels (nnU-Net's preprocessing), every step augments them
with ``training_transforms`` (clip, rotation, translation, noise, gamma, flip, masking, the
deep-supervision targets), the network is an ISLA StdUNet with deep supervision running under the CPU
setting the trainers use, and the loss is ISLA's UFL with its deep-supervision weights; Adam at 3e-3
(the CPU budget's scale, ``CPUBudget``). The case grid is the reference field of view at half the
in-plane and z resolution (96 x 128 x 16 voxels), so a run takes about a minute on 2 cores. Measured
2026-12-03 (bf16 CPU): loss 0.442 -> 0.278 over 100 steps (UFL's focal Tversky term, a square root,
falls slowly), Dice 0.891 and 0.791 on the two cases.

The assertions are meant to fail when labels and images are misaligned, when the loss's sign or
reduction is wrong, or when augmentation moves the image without its label. Each was checked by
breaking it with ``scripts/check_overfit_sabotage.py`` (docs/training.md): labels rolled by 8 voxels
(Dice 0.68 / 0.38), the loss negated (the loss goes negative) and the image flipped left-right without
its label in every batch (Dice 0 / 0) all fail.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from isla_nnunet import losses
from isla_nnunet.evaluation.metrics import dice
from isla_nnunet.networks.cpu_execution import CPUExecution
from isla_nnunet.networks.presets import isla_arch_kwargs
from isla_nnunet.networks.unet import ISLAUNet
from isla_nnunet.simulation import simulate_case
from isla_nnunet.simulation.geometry import Grid
from isla_nnunet.training.augmentation import training_transforms

pytestmark = pytest.mark.slow

GRID = Grid("reference-half", (96, 128, 16), (1.8, 1.8, 12.0))
FEATURES = (8, 8, 16, 16, 32, 32)
STEPS = 100


def preprocessed(seed: int, volume_ml: float) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """(2, z, y, x) z-scored channels, the (1, z, y, x) label with -1 outside the brain, and the lesion."""
    case = simulate_case(seed, "source", grid=GRID, volume_ml=volume_ml)
    channels = np.stack([case.dwi, case.adc]).astype(np.float32).transpose(0, 3, 2, 1)  # (c, x, y, z) -> zyx
    lesion = case.lesion.transpose(2, 1, 0).astype(np.int16)
    brain = ndimage.binary_fill_holes((channels != 0).any(axis=0))
    for channel in channels:
        values = channel[brain]
        channel[brain] = (values - values.mean()) / max(values.std(), 1e-8)
        channel[~brain] = 0
    label = np.where(brain | (lesion > 0), lesion, -1)[None]
    return torch.from_numpy(channels), torch.from_numpy(label), lesion > 0


def augmented_batch(cases, transforms) -> tuple[torch.Tensor, list[torch.Tensor]]:
    samples = [transforms(image=image.clone(), segmentation=label.clone()) for image, label, _ in cases]
    images = torch.stack([s["image"] for s in samples])
    targets = [torch.stack([s["segmentation"][k] for s in samples]) for k in range(len(FEATURES))]
    return images, targets


def network() -> ISLAUNet:
    torch.manual_seed(0)
    kwargs = isla_arch_kwargs(FEATURES)["arch_kwargs"]
    kwargs.update(conv_op=torch.nn.Conv3d, norm_op=torch.nn.GroupNorm, nonlin=torch.nn.LeakyReLU,
                  dropout_op=torch.nn.Dropout)
    return CPUExecution.from_environment().apply(ISLAUNet(2, 2, deep_supervision=True, **kwargs))


def test_isla_unet_overfits_two_simulated_cases():
    torch.set_num_threads(2)
    np.random.seed(0)
    cases = [preprocessed(3, 25.0), preprocessed(5, 12.0)]
    assert all(lesion.sum() > 100 for _, _, lesion in cases)
    shape = tuple(GRID.shape_xyz[::-1])
    transforms = training_transforms(shape, 2, [[1.0, 1.0, 1.0]] * len(FEATURES))
    net = network().train()
    loss_fn = losses.ISLADeepSupervisionLoss(losses.BinaryFromTwoClassLogits(losses.AsymmetricUnifiedFocalLoss()))
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    history = []
    for _ in range(STEPS):
        images, targets = augmented_batch(cases, transforms)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(net(images), targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 12)   # nnU-Net's train_step
        optimizer.step()
        history.append(loss.item())
    first, last = np.mean(history[:5]), np.mean(history[-10:])
    # UFL lies in [0, 1]: a negative loss means its sign is wrong.
    assert 0 < last < 0.8 * first, f"training loss went from {first:.3f} to {last:.3f}"

    net.eval()
    net.decoder.deep_supervision = False
    with torch.no_grad():
        images = torch.stack([image.clamp(-5, 5) for image, _, _ in cases])
        probability = torch.softmax(net(images), dim=1)[:, 1].numpy()
    scores = [dice(p > 0.5, lesion) for p, (_, _, lesion) in zip(probability, cases, strict=True)]
    # The 12 ml case is still climbing at this budget, and its Dice after 80-140 steps spans 0.66-0.86
    # across augmentation seeds and processors' rounding, so the bar is on the pair: misaligned labels
    # give a mean of 0.53 and a minimum of 0.38.
    assert np.mean(scores) > 0.7 and min(scores) > 0.5, f"Dice on the training cases {scores}"
