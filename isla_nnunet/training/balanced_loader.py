"""nnU-Net's data loader drawing Clèrigues et al.'s balanced patches (:mod:`.balanced_patches`).

A pass is every training case's patch plan (``patches_per_case`` each, half on lesion) in one random
order; batches are consecutive runs of that stream, passes follow each other, and with ``k``
augmentation workers worker ``j`` takes batches ``j, j + k, ...`` (as :mod:`.one_pass` does). Plans are
made from nnU-Net's preprocessed segmentation, where -1 marks voxels outside the brain's box, 0
healthy brain and 1 lesion, with a generator seeded by (seed, pass, case), so every worker's copy of the
loader makes the same plans.

nnU-Net's ``generate_train_batch`` loads a case, asks ``get_bbox`` for the crop and passes the crop to
``transforms``: this loader's ``get_indices`` queues the batch's planned centres, ``get_bbox`` hands
them out in order, and the lesion-patch transform (reflection or axial rotation) runs first in the
transforms, so nnU-Net's batch assembly is used unchanged.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from nnunetv2.training.dataloading.data_loader import nnUNetDataLoader

from isla_nnunet.training.balanced_patches import bounding_box, plan_patches, transform_patch


class _LesionPatchTransform:
    """Apply the current patch's planned transform to image and segmentation, then ``inner``."""

    def __init__(self, loader: BalancedPatchDataLoader, inner):
        self.loader, self.inner = loader, inner

    def __call__(self, image, segmentation):
        transform = self.loader.current_transform
        image = transform_patch(image, transform).contiguous()
        segmentation = transform_patch(segmentation, transform).contiguous()
        if self.inner is None:
            return {"image": image, "segmentation": segmentation}
        return self.inner(image=image, segmentation=segmentation)


class BalancedPatchDataLoader(nnUNetDataLoader):
    """Batches of balanced patches (Clèrigues et al. 2019, §3.3) through nnU-Net's batch assembly.

    Args:
        data: an nnU-Net dataset (``nnUNetDatasetBlosc2``...).
        batch_size: patches per batch (the paper: 16).
        patch_size: (z, y, x) patch size, also the network's input.
        label_manager: nnU-Net's label manager of the plans.
        patches_per_case: patches planned per case and pass.
        transforms: nnU-Net transforms applied after the lesion-patch transform (or None).
        num_workers: augmentation worker processes that each hold a copy (0 or 1: one stream).
        seed: seed of the plans and orders, shared by all copies.
        same_patches_every_pass: every pass repeats the first one, batch for batch (validation: each
            epoch of ``ceil(patches_per_pass / batch_size)`` batches scores the same patches).
    """

    def __init__(self, data, batch_size: int, patch_size, label_manager, patches_per_case: int,
                 transforms=None, num_workers: int = 0, seed: int = 0, same_patches_every_pass: bool = False):
        super().__init__(data, batch_size, patch_size, patch_size, label_manager, oversample_foreground_percent=0.0)
        if patches_per_case < 1:
            raise ValueError(f"patches_per_case must be >= 1, got {patches_per_case}")
        self.patches_per_case = int(patches_per_case)
        self.transforms = _LesionPatchTransform(self, transforms)
        self.num_workers = max(1, int(num_workers))
        self.seed = int(seed)
        self.same_patches_every_pass = same_patches_every_pass
        self.batches_drawn = 0
        self.current_transform = 0
        self._queue: deque = deque()
        self._pass_index, self._pass = -1, []

    @property
    def patches_per_pass(self) -> int:
        return len(self.indices) * self.patches_per_case

    @property
    def batches_per_pass(self) -> int:
        return -(-self.patches_per_pass // self.batch_size)

    def pass_plan(self, pass_index: int) -> list[tuple[str, np.ndarray, int]]:
        """(case key, centre, transform) of every patch of one pass, in the pass's random order."""
        if pass_index != self._pass_index:
            draws = []
            for case_number, key in enumerate(self.indices):
                _, seg, _, _ = self._data.load_case(key)
                rng = np.random.default_rng([self.seed, pass_index, case_number])
                plan = plan_patches(np.asarray(seg[0]), self.patches_per_case, self.patch_size, rng)
                draws += [(key, centre, int(t)) for centre, t in zip(plan.centres, plan.transforms, strict=True)]
            order = np.random.default_rng([self.seed, pass_index]).permutation(len(draws))
            self._pass_index, self._pass = pass_index, [draws[i] for i in order]
        return self._pass

    def get_indices(self) -> list:
        batch_index = self.batches_drawn * self.num_workers + int(getattr(self, "thread_id", 0))
        self.batches_drawn += 1
        if self.same_patches_every_pass:
            batch_index %= self.batches_per_pass
        positions = range(batch_index * self.batch_size, (batch_index + 1) * self.batch_size)
        if self.same_patches_every_pass:   # the last batch wraps into the start of the same pass
            positions = [p % self.patches_per_pass for p in positions]
        draws = [self.pass_plan(p // self.patches_per_pass)[p % self.patches_per_pass] for p in positions]
        self._queue = deque((centre, transform) for _, centre, transform in draws)
        return [key for key, _, _ in draws]

    def get_bbox(self, data_shape, force_fg, class_locations, overwrite_class=None, verbose=False):
        centre, self.current_transform = self._queue.popleft()
        return bounding_box(centre, self.patch_size)
