"""Dense overlapping-patch inference of Clèrigues et al. (2019), §3.5.

Patches are taken from every part of the image at a regular step (the paper: 4 x 4 x 1 voxels in x,
y, z for 24 x 24 x 16 patches), each is passed through the network, and every voxel's lesion
probability is the plain mean of the softmax probabilities of all patches that contain it. nnU-Net's
own sliding window differs on purpose: it weights logits with a Gaussian centred on each patch and
steps by half a patch. The last patch along an axis is placed flush with the border, so every voxel
is covered; an image smaller than the patch is padded with zeros (the background after z-scoring
with a brain mask) and cropped back.

Example:
    >>> patch_starts(10, 4, 3), patch_starts(11, 4, 3), patch_starts(3, 4, 1)
    ([0, 3, 6], [0, 3, 6, 7], [0])
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch

from isla_nnunet.errors import ISLAError

PAPER_STEP_ZYX = (1, 4, 4)


def patch_starts(size: int, patch: int, step: int) -> list[int]:
    """Patch origins along one axis: 0, step, 2 step, ... and the last one flush with the border."""
    if step < 1 or patch < 1:
        raise ISLAError(f"patch size and step must be >= 1 voxel, got {patch} and {step}")
    last = max(size - patch, 0)
    starts = list(range(0, last + 1, step))
    if starts[-1] != last:
        starts.append(last)
    return starts


@torch.no_grad()
def dense_patch_probability(network: torch.nn.Module, image: torch.Tensor, patch_size: Sequence[int],
                            step: Sequence[int] = PAPER_STEP_ZYX, batch_size: int = 64,
                            lesion_channel: int = 1) -> torch.Tensor:
    """Lesion probability of every voxel, the mean over all overlapping patches that contain it.

    Args:
        network: returns (B, classes, *patch) logits for (B, C, *patch) input (in eval mode).
        image: (C, z, y, x) preprocessed input.
        patch_size: (z, y, x) patch size of the network.
        step: (z, y, x) step between patch origins (the paper: 1, 4, 4).
        batch_size: patches per forward pass.
        lesion_channel: the class whose softmax probability is returned.

    Returns:
        (z, y, x) float32 probabilities on the image's device.

    Raises:
        ISLAError: an image that is not (C, z, y, x), patch or step of another length, a step below 1.
    """
    if image.ndim != 4 or len(patch_size) != 3 or len(step) != 3:
        raise ISLAError(f"dense inference needs a (C, z, y, x) image and 3-D patch and step, got {tuple(image.shape)}, "
                        f"{tuple(patch_size)} and {tuple(step)}")
    spatial = tuple(image.shape[1:])
    padded = [max(s, p) for s, p in zip(spatial, patch_size, strict=True)]
    if tuple(padded) != spatial:
        image = torch.nn.functional.pad(image, [v for s, p in zip(reversed(spatial), reversed(padded), strict=True)
                                                for v in (0, p - s)])
    starts = list(itertools.product(*(patch_starts(s, p, k) for s, p, k in zip(padded, patch_size, step,
                                                                                  strict=True))))
    total = torch.zeros(padded, dtype=torch.float32, device=image.device)
    count = torch.zeros(padded, dtype=torch.float32, device=image.device)
    windows = [tuple(slice(o, o + p) for o, p in zip(origin, patch_size, strict=True)) for origin in starts]
    for first in range(0, len(windows), batch_size):
        chunk = windows[first:first + batch_size]
        batch = torch.stack([image[(slice(None), *w)] for w in chunk])
        probability = torch.softmax(network(batch).float(), dim=1)[:, lesion_channel]
        for window, p in zip(chunk, probability, strict=True):
            total[window] += p
            count[window] += 1
    mean = total / count
    return mean[tuple(slice(0, s) for s in spatial)]
