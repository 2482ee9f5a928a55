"""BalancedPatchDataLoader through nnU-Net's own batch assembly, on small in-memory cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from nnunetv2.utilities.label_handling.label_handling import LabelManager

from isla_nnunet.training.balanced_loader import BalancedPatchDataLoader

PATCH = (4, 8, 8)


class MemoryDataset:
    """The part of nnU-Net's dataset interface the loader uses: identifiers and load_case."""

    def __init__(self, cases: dict):
        self.cases = cases
        self.identifiers = sorted(cases)

    def load_case(self, key):
        image, seg = self.cases[key]
        return image, seg, None, {"class_locations": {}}


def make_case(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Image channel 0 = x index, channel 1 = y index; seg -1 outside a brain box, a lesion cube of 1."""
    rng = np.random.default_rng(seed)
    shape = (8, 24, 24)
    z, y, x = np.indices(shape)
    image = np.stack([x, y]).astype(np.float32)
    seg = -np.ones((1, *shape), np.int16)
    seg[0, 1:7, 2:22, 2:22] = 0
    start = rng.integers(4, 14, size=2)
    seg[0, 3:5, start[0]:start[0] + 4, start[1]:start[1] + 4] = 1
    return image, seg


def loader(n_cases=3, patches_per_case=8, batch_size=4, **kwargs) -> BalancedPatchDataLoader:
    data = MemoryDataset({f"case{i}": make_case(i) for i in range(n_cases)})
    labels = LabelManager({"background": 0, "lesion": 1}, regions_class_order=None)
    return BalancedPatchDataLoader(data, batch_size, PATCH, labels, patches_per_case, **kwargs)


def test_a_pass_holds_every_case_patches_per_case_times_half_on_lesion():
    dl = loader()
    draws = dl.pass_plan(0)
    assert len(draws) == dl.patches_per_pass == 24
    assert sorted({key for key, _, _ in draws}) == ["case0", "case1", "case2"]
    assert all(sum(key == k for key, _, _ in draws) == 8 for k in ("case0", "case1", "case2"))
    batches = [next(dl) for _ in range(dl.batches_per_pass)]
    targets = np.concatenate([b["target"].numpy() for b in batches])
    assert targets.shape == (24, 1, *PATCH)
    # every lesion patch contains its sampled lesion voxel: at least half of the patches hold lesion
    assert (targets == 1).reshape(24, -1).any(axis=1).sum() >= 12
    assert set(np.unique(targets)) <= {-1, 0, 1}


def test_lesion_patch_transforms_move_image_and_label_together():
    dl = loader(n_cases=2, patches_per_case=40, batch_size=8)
    cases = {k: make_case(i) for i, k in enumerate(("case0", "case1"))}
    for _ in range(dl.batches_per_pass):
        keys = dl.get_indices()
        for key in keys:
            image, seg = cases[key]
            lower, upper = dl.get_bbox(image.shape[1:], False, {})
            crop = tuple(slice(max(lo, 0), up) for lo, up in zip(lower, upper, strict=True))
            if any(lo < 0 or up > s for lo, up, s in zip(lower, upper, image.shape[1:], strict=True)):
                continue  # padded patches are checked by nnU-Net's crop_and_pad_nd, not here
            out = dl.transforms(image=torch.from_numpy(image[(slice(None), *crop)].copy()),
                                segmentation=torch.from_numpy(seg[(slice(None), *crop)].copy()))
            # the label still sits where the (transformed) coordinates say it was
            xs, ys = out["image"][0].numpy().astype(int), out["image"][1].numpy().astype(int)
            zs = np.arange(lower[0], upper[0])[:, None, None] * np.ones_like(xs)
            assert np.array_equal(out["segmentation"][0].numpy(), seg[0][zs, ys, xs])


def test_same_patches_every_pass_for_validation():
    dl = loader(same_patches_every_pass=True, batch_size=5)   # 24 patches: 5 batches, the last wraps
    first = [next(dl)["data"].numpy() for _ in range(dl.batches_per_pass)]
    second = [next(dl)["data"].numpy() for _ in range(dl.batches_per_pass)]
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_passes_differ_for_training_and_workers_split_the_stream():
    dl = loader()
    assert [c.tolist() for _, c, _ in dl.pass_plan(0)] != [c.tolist() for _, c, _ in dl.pass_plan(1)]
    one = loader(seed=3)
    expected = [one.get_indices() for _ in range(4)]
    workers = [loader(seed=3, num_workers=2) for _ in range(2)]
    for j, w in enumerate(workers):
        w.thread_id = j
    got = [workers[g % 2].get_indices() for g in range(4)]
    assert got == expected


def test_bad_patch_count_is_refused():
    with pytest.raises(ValueError, match="patches_per_case"):
        loader(patches_per_case=0)
