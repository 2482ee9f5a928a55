"""Epochs that are one pass over the training cases, each case drawn once (Roca et al., §3.2.4).

nnU-Net's data loader draws every batch with replacement, so in an epoch of ``ceil(N / B)`` batches
about a third of the cases are never seen (``(1 - 1/N)^N`` ~ 1/e). :class:`OnePassDataLoader` instead
reads an endless stream of case indices made of one fresh random permutation per pass, and batch ``g``
is stream positions ``[g*B, (g+1)*B)``: every case appears once per pass, and when ``N`` is not a
multiple of ``B`` the last batch of a pass wraps into the next permutation (so a case appears at most
twice in an epoch of ``ceil(N / B)`` batches).

With ``k`` data-augmentation workers (``nnUNet_n_proc_DA``), every worker holds a copy of the loader;
all copies share the permutation seed and worker ``j`` takes batches ``j, j + k, j + 2k, ...``, so
together they still deliver the stream. nnU-Net's non-deterministic augmenter hands batches over in
the order they are ready, so at an epoch boundary a few batches of one pass can swap places with the
next; with 0 or 1 workers the order is exact.

Example:
    >>> stream = PassStream(n_cases=5, seed=3)
    >>> stream_start = [i for g in range(3) for i in stream.batch(g, batch_size=2)]
    >>> sorted(stream_start[:5])  # the first pass: every case once; the 6th index opens the next pass
    [0, 1, 2, 3, 4]
"""

from __future__ import annotations

import numpy as np
import torch
from batchgenerators.dataloading.nondet_multi_threaded_augmenter import NonDetMultiThreadedAugmenter
from batchgenerators.dataloading.single_threaded_augmenter import SingleThreadedAugmenter
from nnunetv2.training.dataloading.data_loader import nnUNetDataLoader


class PassStream:
    """Case indices as concatenated random permutations of ``range(n_cases)``, one per pass."""

    def __init__(self, n_cases: int, seed: int):
        if n_cases < 1:
            raise ValueError(f"a pass needs at least one case, got {n_cases}")
        self.n_cases, self.seed = int(n_cases), int(seed)
        self._pass, self._order = -1, np.empty(0, dtype=np.int64)

    def permutation(self, pass_index: int) -> np.ndarray:
        if pass_index != self._pass:
            rng = np.random.default_rng([self.seed, pass_index])
            self._pass, self._order = pass_index, rng.permutation(self.n_cases)
        return self._order

    def batch(self, batch_index: int, batch_size: int) -> list[int]:
        """Stream positions ``[batch_index * batch_size, (batch_index + 1) * batch_size)``."""
        positions = range(batch_index * batch_size, (batch_index + 1) * batch_size)
        return [int(self.permutation(p // self.n_cases)[p % self.n_cases]) for p in positions]


class OnePassDataLoader(nnUNetDataLoader):
    """nnU-Net's loader drawing batches from a :class:`PassStream` instead of with replacement.

    Args:
        *args, **kwargs: those of ``nnUNetDataLoader``.
        num_workers: augmentation worker processes that will each hold a copy (0 or 1: one stream).
        seed: permutation seed shared by all copies (default: drawn from NumPy's global generator, which
            nnU-Net seeds per run).
    """

    def __init__(self, *args, num_workers: int = 0, seed: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        seed = int(np.random.randint(0, 2**31 - 1)) if seed is None else int(seed)
        self.stream = PassStream(len(self.indices), seed)
        self.num_workers = max(1, int(num_workers))
        self.batches_drawn = 0

    def get_indices(self) -> list:
        # thread_id is set in each worker's copy by the augmenter (0 without workers).
        batch_index = self.batches_drawn * self.num_workers + int(getattr(self, "thread_id", 0))
        self.batches_drawn += 1
        return [self.indices[i] for i in self.stream.batch(batch_index, self.batch_size)]


def augmenter(loader: OnePassDataLoader, processes: int, device: torch.device):
    """nnU-Net's batch generator around ``loader``: in this process for 0 workers, else in ``processes`` workers."""
    if processes == 0:
        return SingleThreadedAugmenter(loader, None)
    return NonDetMultiThreadedAugmenter(loader, None, num_processes=processes, num_cached=max(6, processes // 2),
                                        seeds=None, pin_memory=device.type == "cuda", wait_time=0.002)
