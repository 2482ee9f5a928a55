"""Balanced patch sampling (Clèrigues et al. 2019, §3.3): proportions, regular steps, offsets, transforms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isla_nnunet.training.balanced_patches import (
    LESION_TRANSFORMS,
    bounding_box,
    lesion_offsets,
    plan_patches,
    regular_subset,
    transform_patch,
)

PATCH = (16, 24, 24)


def brain_with_lesion(lesion_voxels: int = 0) -> np.ndarray:
    label = -np.ones((20, 64, 64), np.int8)
    label[2:18, 8:56, 8:56] = 0
    if lesion_voxels:
        flat = np.flatnonzero(label == 0)[5000:5000 + lesion_voxels]
        label.flat[flat] = 1
    return label


def test_half_of_the_patches_are_centred_on_lesion():
    plan = plan_patches(brain_with_lesion(400), 64, PATCH, np.random.default_rng(0))
    assert len(plan) == 64 and plan.on_lesion.sum() == 32
    label = brain_with_lesion(400)
    assert (label[tuple(plan.sampled_voxels[plan.on_lesion].T)] == 1).all()
    assert (label[tuple(plan.centres[~plan.on_lesion].T)] == 0).all()   # healthy brain, not outside


def test_healthy_patches_cover_the_brain_at_regular_steps():
    label = brain_with_lesion()
    plan = plan_patches(label, 40, PATCH, np.random.default_rng(0))
    healthy = np.flatnonzero(label == 0)
    positions = np.searchsorted(healthy, np.ravel_multi_index(tuple(plan.centres.T), label.shape))
    steps = np.diff(positions)
    step = len(healthy) / 40   # 36864 brain voxels: one patch every 921.6
    assert set(steps) == {int(step), int(step) + 1}
    z = plan.centres[:, 0]
    assert z.min() == 2 and z.max() == 17   # the first and the last brain slice


def test_lesion_offsets_keep_the_sampled_voxel_inside_the_patch():
    plan = plan_patches(brain_with_lesion(400), 2000, PATCH, np.random.default_rng(1))
    on = plan.on_lesion
    offsets = plan.centres[on] - plan.sampled_voxels[on]
    half = np.array([(p - 1) // 2 for p in PATCH])
    assert (np.abs(offsets) <= half).all()
    assert (offsets.min(0) == -half).all() and (offsets.max(0) == half).all()   # the full range is used
    for centre, voxel in zip(plan.centres[on], plan.sampled_voxels[on], strict=True):
        lower, upper = bounding_box(centre, PATCH)
        assert all(lo <= v < up for lo, v, up in zip(lower, voxel, upper, strict=True))


@pytest.mark.parametrize("size", [1, 2, 23, 24, 25])
def test_offset_bound_is_exact_at_the_edges_of_the_patch(size):
    # The largest offsets still leave the voxel in [c - p // 2, c - p // 2 + p).
    half = (size - 1) // 2
    for offset in (-half, half):
        lower, upper = bounding_box([offset], [size])
        assert lower[0] <= 0 < upper[0]
    assert lesion_offsets(500, [size], np.random.default_rng(0)).max() == half


def test_small_lesions_are_reused_with_different_offsets():
    plan = plan_patches(brain_with_lesion(3), 40, PATCH, np.random.default_rng(2))
    sampled = plan.sampled_voxels[plan.on_lesion]
    assert len(sampled) == 20 and len(np.unique(sampled, axis=0)) == 3
    _, counts = np.unique(sampled, axis=0, return_counts=True)
    assert sorted(counts) == [6, 7, 7]
    assert len(np.unique(plan.centres[plan.on_lesion], axis=0)) > 15


def test_case_without_lesion_gets_healthy_patches_only():
    plan = plan_patches(brain_with_lesion(), 10, PATCH, np.random.default_rng(0))
    assert not plan.on_lesion.any() and (plan.transforms == 0).all()


def test_transforms_of_lesion_patches_use_all_five_and_healthy_none():
    plan = plan_patches(brain_with_lesion(400), 400, PATCH, np.random.default_rng(0))
    assert set(plan.transforms[plan.on_lesion]) == set(range(len(LESION_TRANSFORMS)))
    assert (plan.transforms[~plan.on_lesion] == 0).all()
    non_square = plan_patches(brain_with_lesion(400), 400, (16, 24, 16), np.random.default_rng(0))
    assert set(non_square.transforms) == {0, 1}   # rotations need a square axial plane


def test_transforms_by_hand():
    patch = np.arange(4).reshape(1, 2, 2)   # z = 1, rows y, columns x: [[0, 1], [2, 3]]
    expected = {"identity": [[0, 1], [2, 3]], "sagittal-flip": [[1, 0], [3, 2]],
                "rot90": [[1, 3], [0, 2]], "rot180": [[3, 2], [1, 0]], "rot270": [[2, 0], [3, 1]]}
    for index, name in enumerate(LESION_TRANSFORMS):
        assert transform_patch(patch, index)[0].tolist() == expected[name], name
        assert transform_patch(torch.from_numpy(patch), index)[0].tolist() == expected[name], name


def test_regular_subset_takes_equal_steps_and_repeats_when_short():
    voxels = np.arange(10)[:, None]
    assert regular_subset(voxels, 5)[:, 0].tolist() == [0, 2, 4, 6, 8]
    assert regular_subset(voxels[:3], 7)[:, 0].tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert len(regular_subset(voxels[:0], 0)) == 0


@pytest.mark.parametrize("label, n, patch, match", [
    (np.zeros((4, 4)), 4, PATCH, "3-D"),
    (np.zeros((4, 4, 4)), 4, (4, 4), "3-D"),
    (np.zeros((4, 4, 4)), 0, PATCH, "at least 1"),
    (-np.ones((4, 4, 4)), 4, PATCH, "no healthy brain voxel"),
])
def test_bad_arguments_are_refused(label, n, patch, match):
    with pytest.raises(ValueError, match=match):
        plan_patches(label, n, patch, np.random.default_rng(0))
