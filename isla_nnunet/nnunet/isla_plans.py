"""Names and batch rule of ISLA's plans, shared by ``isla plan`` and the ISLA planner (no nnU-Net import)."""

from __future__ import annotations

import math

PLANS_NAME = "ISLAPlans"
CONFIGURATION = "3d_fullres"
ISLA_BATCH_SIZE = 8
MIN_BATCH_SIZE = 2
# ISLA's batch of 8 fits this budget with the default filters; smaller targets reduce the batch.
DEFAULT_GPU_MEMORY_TARGET_GB = 40.0
# nnU-Net's default planner: 560e6 activation elements fit a batch of 2 on an 8 GB GPU.
_NNUNET_REFERENCE_ELEMENTS, _NNUNET_REFERENCE_GB, _NNUNET_REFERENCE_BATCH = 560e6, 8.0, 2


def batch_size_for(feature_map_elements: int, gpu_memory_target_gb: float) -> int:
    """ISLA's batch of 8, reduced the way nnU-Net reduces batches when a memory target would be exceeded.

    Example:
        >>> batch_size_for(280_000_000, 40.0), batch_size_for(280_000_000, 8.0)
        (8, 4)
    """
    budget = _NNUNET_REFERENCE_ELEMENTS * gpu_memory_target_gb / _NNUNET_REFERENCE_GB
    fitting = math.floor(budget / feature_map_elements * _NNUNET_REFERENCE_BATCH)
    return int(max(MIN_BATCH_SIZE, min(ISLA_BATCH_SIZE, fitting)))
