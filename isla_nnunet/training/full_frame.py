"""Training cases back on the full reference grid.

nnU-Net's preprocessing crops every case to its non-zero (brain) box. ISLA trains on the whole
192x224x32 volume with small translations; a cropped case smaller than the patch would instead be
placed at a random offset by nnU-Net's data loader, a much larger shift than ISLA's +-10/12/2 voxels.
Restoring the crop into its original frame keeps the brain where registration put it.
"""

from __future__ import annotations

import functools

import numpy as np


def uncrop(data, seg, properties: dict) -> tuple[np.ndarray, np.ndarray]:
    """Place cropped ``data`` (C, *S) and ``seg`` back at ``bbox_used_for_cropping`` in the original frame.

    Voxels outside the crop are 0 in the image and -1 in the segmentation (nnU-Net's "outside the
    brain" marker, removed by the training transforms).
    """
    shape = tuple(int(s) for s in properties["shape_before_cropping"])
    box = tuple(slice(int(lo), int(hi)) for lo, hi in properties["bbox_used_for_cropping"])
    data = np.asarray(data[:])
    seg = np.asarray(seg[:])
    full_data = np.zeros((data.shape[0], *shape), dtype=data.dtype)
    full_seg = np.full((seg.shape[0], *shape), -1, dtype=seg.dtype)
    full_data[(slice(None), *box)] = data
    full_seg[(slice(None), *box)] = seg
    return full_data, full_seg


@functools.cache
def full_frame_dataset_class(dataset_class: type) -> type:
    """A subclass of an nnU-Net dataset class whose ``load_case`` returns uncropped cases."""

    def load_case(self, identifier):
        data, seg, seg_prev, properties = dataset_class.load_case(self, identifier)
        data, seg = uncrop(data, seg, properties)
        return data, seg, seg_prev, properties

    return type(f"FullFrame{dataset_class.__name__}", (dataset_class,), {"load_case": load_case})
