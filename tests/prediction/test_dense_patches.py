"""Dense overlapping-patch inference: coverage, placement and uniform averaging of probabilities."""

from __future__ import annotations

import math

import pytest
import torch

from isla_nnunet.errors import ISLAError
from isla_nnunet.prediction.dense_patches import dense_patch_probability, patch_starts


class Pointwise(torch.nn.Module):
    """Two-class logits [0, x_0] per voxel: the probability sigmoid(x_0) does not depend on the patch."""

    def forward(self, x):
        return torch.cat([torch.zeros_like(x[:, :1]), x[:, :1]], dim=1)


class PatchMean(torch.nn.Module):
    """The same logit over the whole patch: logit(mean of channel 0 over the patch)."""

    def forward(self, x):
        mean = x[:, :1].mean(dim=(2, 3, 4), keepdim=True).clamp(1e-6, 1 - 1e-6)
        z = torch.log(mean / (1 - mean)).expand_as(x[:, :1])
        return torch.cat([torch.zeros_like(z), z], dim=1)


class FirstVoxel(torch.nn.Module):
    """The same probability over the whole patch: channel 0 of the patch's first voxel."""

    def forward(self, x):
        p = x[:, :1, :1, :1, :1].clamp(1e-6, 1 - 1e-6)
        z = torch.log(p / (1 - p)).expand_as(x[:, :1])
        return torch.cat([torch.zeros_like(z), z], dim=1)


@pytest.mark.parametrize("size, patch, step, expected", [
    (10, 4, 3, [0, 3, 6]), (11, 4, 3, [0, 3, 6, 7]), (4, 4, 1, [0]), (3, 4, 1, [0]), (8, 4, 4, [0, 4]),
    (24, 24, 4, [0]), (25, 24, 4, [0, 1]),
])
def test_patch_starts_cover_the_axis(size, patch, step, expected):
    starts = patch_starts(size, patch, step)
    assert starts == expected
    covered = set().union(*(range(s, s + patch) for s in starts))
    assert covered >= set(range(size))


def test_a_pointwise_network_gives_its_own_value_everywhere():
    # Every patch agrees on every voxel, so averaging changes nothing and any misplaced patch would show.
    image = torch.linspace(-3, 3, 2 * 9 * 13 * 11).reshape(2, 9, 13, 11)
    result = dense_patch_probability(Pointwise(), image, (4, 6, 6), step=(1, 4, 4), batch_size=5)
    assert result.shape == (9, 13, 11)
    assert torch.allclose(result, torch.sigmoid(image[0]), atol=1e-6)


def test_probabilities_are_averaged_uniformly_by_hand():
    # One axis of interest: x of size 6, patch 4, step 2 -> patches at x 0-3 and 2-5. Channel 0 holds 0.2
    # for x < 3 and 0.8 from x = 3: patch means (0.2*3 + 0.8)/4 = 0.35 and (0.2 + 0.8*3)/4 = 0.65.
    image = torch.full((1, 1, 1, 6), 0.2)
    image[..., 3:] = 0.8
    result = dense_patch_probability(PatchMean(), image, (1, 1, 4), step=(1, 1, 2))[0, 0]
    assert result.tolist() == pytest.approx([0.35, 0.35, 0.5, 0.5, 0.65, 0.65], abs=1e-6)


def test_probabilities_not_logits_are_averaged():
    # Patches [0, 1] and [1, 2] of x = [0.1, 0.7, 0.3] give p = 0.1 and 0.7 everywhere inside them. Voxel 1
    # gets the mean probability 0.4; the mean of the logits would give sigmoid((ln(1/9) + ln(7/3)) / 2)
    # = 0.3374.
    image = torch.tensor([0.1, 0.7, 0.3]).reshape(1, 1, 1, 3)
    result = dense_patch_probability(FirstVoxel(), image, (1, 1, 2), step=(1, 1, 1))[0, 0]
    assert result.tolist() == pytest.approx([0.1, 0.4, 0.7], abs=1e-6)
    logit_mean = 1 / (1 + math.exp(-(math.log(1 / 9) + math.log(7 / 3)) / 2))
    assert abs(result[1].item() - logit_mean) > 0.06


def test_an_image_smaller_than_the_patch_is_padded_and_cropped_back():
    image = torch.linspace(-1, 1, 3 * 5 * 5).reshape(1, 3, 5, 5)
    result = dense_patch_probability(Pointwise(), image, (4, 8, 8))
    assert result.shape == (3, 5, 5) and torch.allclose(result, torch.sigmoid(image[0]), atol=1e-6)


@pytest.mark.parametrize("image, patch, step, match", [
    (torch.zeros(4, 4, 4), (2, 2, 2), (1, 1, 1), "\\(C, z, y, x\\)"),
    (torch.zeros(1, 4, 4, 4), (2, 2), (1, 1, 1), "3-D patch"),
    (torch.zeros(1, 4, 4, 4), (2, 2, 2), (1, 0, 1), ">= 1 voxel"),
])
def test_bad_arguments_are_refused(image, patch, step, match):
    with pytest.raises(ISLAError, match=match):
        dense_patch_probability(Pointwise(), image, patch, step)
