import math

import numpy as np
import pytest
import torch
from batchgeneratorsv2.transforms.utils.compose import ComposeTransforms

from isla_nnunet.training import augmentation
from isla_nnunet.training.augmentation import (
    MAX_ROTATION_DEGREES,
    TRANSLATION_VOXELS_ZYX,
    spatial_transform,
    training_transforms,
)

# A reduced grid keeps the tests fast; the transforms do not depend on the size.
PATCH = (8, 48, 40)


def test_rotation_is_about_the_inferior_superior_axis_only():
    np.random.seed(0)
    limit = math.radians(MAX_ROTATION_DEGREES)
    angles = [augmentation._rotation_about_inferior_superior(dim=0) for _ in range(500)]
    assert all(-limit <= a <= limit for a in angles)
    assert max(angles) > 0.9 * limit and min(angles) < -0.9 * limit  # the whole range is used
    assert {augmentation._rotation_about_inferior_superior(dim=d) for d in (1, 2) for _ in range(20)} == {0.0}


def test_spatial_transform_never_mixes_slices_and_shifts_z_by_at_most_two():
    # Every z-slice holds its own constant: an in-plane rotation plus translation keeps each output
    # slice constant (a fractional z shift blends two neighbours uniformly), and the constant tells
    # which input slice (up to +-2) it came from.
    image = torch.arange(1, PATCH[0] + 1, dtype=torch.float32)[None, :, None, None].expand(2, *PATCH).clone()
    seg = torch.zeros((1, *PATCH), dtype=torch.int16)
    transform = spatial_transform(PATCH)
    shifts = []
    for seed in range(20):
        torch.manual_seed(seed), np.random.seed(seed)
        out = transform(image=image.clone(), segmentation=seg.clone())["image"]
        # The central in-plane region always maps inside the volume (corners rotate in from outside).
        centre = out[0, :, 16:32, 12:28]
        spread = centre.amax(dim=(1, 2)) - centre.amin(dim=(1, 2))
        assert float(spread.max()) < 1e-4
        # Slices shifted in from beyond the ends blend with zero padding; the median shows the shift.
        shift = float(torch.median(centre.mean(dim=(1, 2)) - torch.arange(1, PATCH[0] + 1)))
        assert abs(shift) <= TRANSLATION_VOXELS_ZYX[0] + 1e-4
        shifts.append(shift)
    assert max(shifts) > 1.0 and min(shifts) < -1.0  # z translation is really applied


def test_spatial_transform_moves_the_centre_by_at_most_the_translation():
    image = torch.zeros((1, *PATCH))
    centre = tuple(s // 2 for s in PATCH)
    image[0, :, centre[1] - 2:centre[1] + 2, centre[2] - 2:centre[2] + 2] = 1.0
    seg = torch.zeros((1, *PATCH), dtype=torch.int16)
    transform = spatial_transform(PATCH)
    bound = math.hypot(TRANSLATION_VOXELS_ZYX[1], TRANSLATION_VOXELS_ZYX[2]) + 1.0
    shifts = []
    for seed in range(30):
        torch.manual_seed(seed), np.random.seed(seed)
        out = transform(image=image.clone(), segmentation=seg.clone())["image"][0].sum(0)
        ys, xs = np.nonzero(out.numpy() > 0.5)
        shift = math.hypot(ys.mean() - (centre[1] - 0.5), xs.mean() - (centre[2] - 0.5))
        assert shift <= bound
        shifts.append(shift)
    assert max(shifts) > 2.0  # translation is really applied


def test_training_pipeline_zeroes_non_brain_and_keeps_binary_labels():
    torch.manual_seed(0), np.random.seed(0)
    image = torch.randn((2, *PATCH))
    seg = torch.zeros((1, *PATCH), dtype=torch.int16)
    seg[:, :, :, :6] = -1  # nnU-Net's "outside the brain" marker
    seg[:, 3:5, 20:28, 18:24] = 1
    out = training_transforms(PATCH, n_channels=2, deep_supervision_scales=[[1, 1, 1]] * 3)(
        image=image, segmentation=seg)
    targets = out["segmentation"]
    assert len(targets) == 3 and all(t.shape == (1, *PATCH) for t in targets)
    assert all(torch.equal(t, targets[0]) for t in targets)  # every head sees the full-resolution target
    assert set(torch.unique(targets[0]).tolist()) <= {0, 1}
    assert targets[0].sum() > 0  # the lesion survives


def test_noise_and_gamma_do_not_leak_outside_the_brain():
    torch.manual_seed(0), np.random.seed(0)
    image = torch.randn((2, *PATCH))
    seg = torch.zeros((1, *PATCH), dtype=torch.int16)
    seg[:, :, :, :6] = -1
    for transform in augmentation.intensity_transforms() + augmentation.finishing_transforms(2):
        out = transform(image=image, segmentation=seg)
        image, seg = out["image"], out["segmentation"]
    assert (image[:, :, :, :6] == 0).all()
    assert (image[:, :, :, 6:] != 0).float().mean() > 0.99
    assert set(torch.unique(seg).tolist()) == {0}


@pytest.mark.parametrize("channel", [0, 1])
def test_intensity_augmentation_is_drawn_per_channel(channel):
    torch.manual_seed(1), np.random.seed(1)
    image = torch.ones((2, *PATCH))
    out = image.clone()
    for transform in augmentation.intensity_transforms():
        out = transform(image=out)["image"]
    other = 1 - channel
    assert not torch.allclose(out[channel], out[other])
    noise_std = float((out[channel] - out[channel].mean()).std())
    assert noise_std <= augmentation.NOISE_STD_RANGE[1] * 1.2


def test_clip_comes_before_noise_and_gamma():
    # ISLA clips the z-scores to [-5, 5] as preprocessing, then augments: noise and gamma see clipped values.
    from batchgeneratorsv2.transforms.intensity.gamma import GammaTransform
    from batchgeneratorsv2.transforms.intensity.gaussian_noise import GaussianNoiseTransform

    from isla_nnunet.training.augmentation import ClipIntensity, training_transforms

    steps = training_transforms((4, 16, 16), 2).transforms
    kinds = [type(t) for t in steps]
    assert kinds[0] is ClipIntensity and (steps[0].low, steps[0].high) == (-5.0, 5.0)
    assert kinds.index(GaussianNoiseTransform) > 0 and kinds.index(GammaTransform) > 0
    seen = []
    noise = steps[kinds.index(GaussianNoiseTransform)]
    original = noise._apply_to_image
    noise._apply_to_image = lambda img, **p: (seen.append(img.clone()), original(img, **p))[1]
    image = torch.full((2, 4, 16, 16), 20.0)
    image[1] = -30.0
    segmentation = torch.zeros((1, 4, 16, 16), dtype=torch.int16)
    ComposeTransforms(steps)(image=image, segmentation=segmentation)
    # (the rotation interpolates between clipped values, within float rounding)
    assert seen and seen[0].min() >= -5.0 - 1e-4 and seen[0].max() <= 5.0 + 1e-4
