"""Binary focal loss, the loss of Clèrigues et al. (2019).

References: T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollár, "Focal Loss for Dense Object
Detection", ICCV 2017 (the loss and its defaults gamma = 2, alpha = 0.25); A. Clèrigues et al.,
"Acute and sub-acute stroke lesion segmentation from multimodal MRI", Computer Methods and Programs
in Biomedicine 2020 (§3.3, eq. 1: gamma = 2 with class weights 0.25 healthy / 0.75 lesion).

With p = sigmoid(z) the lesion probability and y in {0, 1}, per voxel:

    FL = -alpha_lesion  * (1 - p)^gamma * log(p)        where y = 1
    FL = -alpha_healthy * p^gamma       * log(1 - p)    where y = 0
    L  = mean of FL over every voxel of the batch

The mean over voxels (rather than Lin et al.'s division by the number of positive anchors) keeps the
loss of a patch with no lesion defined and its scale independent of the lesion's size. gamma = 0 with
both weights 1 is the binary cross-entropy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from isla_nnunet.losses._validation import check_logits_and_target


class BinaryFocalLoss(nn.Module):
    """Focal loss from binary logits, with one weight per class.

    Args:
        alpha_healthy: weight of the voxels labelled 0 (Clèrigues: 0.25).
        alpha_lesion: weight of the voxels labelled 1 (Clèrigues: 0.75).
        gamma: focusing exponent, >= 0 (Clèrigues and Lin et al.: 2).

    Call:
        ``loss(logits, target)`` with ``logits`` (B, 1, *spatial) floating point (computed in float32
        with autocast disabled) and ``target`` of the same shape holding only 0 and 1 (bool, integer
        or float). Returns a float32 scalar, the mean focal loss over all voxels; 0 only in the limit
        of confident correct logits.

    Raises:
        ValueError: a negative weight or gamma (at construction); logits not (B, 1, *spatial) or not
            floating point; target shape different from the logits; target values other than 0/1.

    Example:
        >>> import math, torch
        >>> loss = BinaryFocalLoss()
        >>> logits = torch.tensor([math.log(3), -math.log(3)]).reshape(1, 1, 2)   # p = 3/4, 1/4
        >>> target = torch.tensor([1, 1]).reshape(1, 1, 2)
        >>> round(loss(logits, target).item(), 6)   # (0.75/16 ln(4/3) + 0.75*9/16 ln 4) / 2
        0.299164
    """

    def __init__(self, alpha_healthy: float = 0.25, alpha_lesion: float = 0.75, gamma: float = 2.0) -> None:
        super().__init__()
        for name, value in (("alpha_healthy", alpha_healthy), ("alpha_lesion", alpha_lesion), ("gamma", gamma)):
            if not value >= 0:
                raise ValueError(f"{type(self).__name__}: {name} must be >= 0, got {value}")
        self.alpha_healthy, self.alpha_lesion, self.gamma = float(alpha_healthy), float(alpha_lesion), float(gamma)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_logits_and_target(logits, target, type(self).__name__)
        with torch.autocast(device_type=logits.device.type, enabled=False):
            z, y = logits.float(), target.float()
            # log p and log(1 - p) from the logits: no log(0) for confident logits.
            log_p, log_not_p = F.logsigmoid(z), F.logsigmoid(-z)
            lesion = -self.alpha_lesion * torch.exp(self.gamma * log_not_p) * log_p
            healthy = -self.alpha_healthy * torch.exp(self.gamma * log_p) * log_not_p
            return (y * lesion + (1.0 - y) * healthy).mean()

    def extra_repr(self) -> str:
        return f"alpha_healthy={self.alpha_healthy}, alpha_lesion={self.alpha_lesion}, gamma={self.gamma}"
