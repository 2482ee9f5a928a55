"""Asymmetric Unified Focal loss for binary segmentation (Yeung et al. 2022), as used by ISLA.

Reference: M. Yeung, E. Sala, C.-B. Schönlieb, L. Rundo, "Unified Focal loss: Generalising Dice and
cross entropy-based losses to handle class imbalanced medical image segmentation", Computerized
Medical Imaging and Graphics 95 (2022) 102026. ISLA (Roca et al., §3.2.3.1) uses the asymmetric
variant with lambda = 0.5, delta = 0.6, gamma = 0.5, the values Yeung et al. used for 3D tasks.

With p = sigmoid(logit) and y in {0, 1}, per sample (sums and means over that sample's voxels):

- TP = sum p*y, FN = sum (1-p)*y, FP = sum p*(1-y), TN = sum (1-p)*(1-y)
- mTI_fg = TP / (TP + delta*FN + (1-delta)*FP)
- mTI_bg = TN / (TN + delta*FP + (1-delta)*FN)         (foreground and background roles swapped)
- L_aFTL = ((1 - mTI_bg) + (1 - mTI_fg)^(1-gamma)) / 2
- L_aFL = mean[-(1-delta) * p^gamma * (1-y) * log(1-p) - delta * y * log(p)]
- L = lambda * L_aFL + (1 - lambda) * L_aFTL, averaged over the batch.

Averaging (not summing) the two focal Tversky terms: the paper writes a sum, but the authors' code
(github.com/mlyg/unified-focal-loss, ``asymmetric_focal_tversky_loss``) and MONAI's port average
them, and the experiments that selected lambda, delta and gamma, which ISLA adopts unchanged, ran
that code. The published sum needs no flag: for any lambda,
``L_sum(lambda) = (2 - lambda) * L_mean(lambda / (2 - lambda))``, so pass ``weight=1/3`` to train
with the paper's equation at lambda = 0.5 (the constant factor 1.5 does not change Adam's steps).
The authors' code also multiplies lambda with the Tversky term and 1 - lambda with the focal term,
the reverse of the paper; at lambda = 0.5 the two agree, and this module follows the paper.

Cases without lesion: TP = FN = 0, so mTI_fg is about 0 (unless sum p falls below the 1e-6
smoothing) and the foreground Tversky term sits near its maximum with almost no gradient; as in the
authors' code, such cases are trained by the focal and background Tversky terms.

Pitfalls of public ports that this module avoids: the Tversky index uses beta = 1 - delta on the
false positives (not beta = delta), it is one ratio of sums per sample (not per voxel), and the
probabilities are never binarised.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from isla_nnunet.losses._validation import check_logits_and_target

# Added to the Tversky denominators so that an exact 0/0 (no lesion and p underflowed to 0) is
# defined; a millionth of a voxel, far below any real TP/FN/FP count.
_SMOOTH = 1e-6
# Floor of 1 - mTI_fg before the power 1 - gamma: d/du u^(1-gamma) is unbounded at u = 0. The floor
# caps that factor at (1-gamma) * _EPS^-gamma (5e3 for gamma = 0.5) and leaves the term at least
# _EPS^(1-gamma) (1e-4 for gamma = 0.5). The ratio it applies to is formed without cancellation, so
# float32 resolves values far below this floor.
_EPS = 1e-8


class AsymmetricUnifiedFocalLoss(nn.Module):
    """Asymmetric Unified Focal loss of binary logits (Yeung et al. 2022, ISLA's "UFL").

    Args:
        weight: lambda in [0, 1], the share of the asymmetric focal loss; 1 - lambda goes to the
            asymmetric focal Tversky loss. ISLA: 0.5.
        delta: in (0, 1), weight of false negatives (and of the foreground cross-entropy) against
            false positives (and background cross-entropy). ISLA: 0.6.
        gamma: in [0, 1), focal parameter: suppresses easy background voxels in the focal term
            (factor p^gamma) and enhances the foreground Tversky term (power 1 - gamma). ISLA: 0.5.

    Call:
        ``loss(logits, target)`` with ``logits`` (B, 1, *spatial) floating point (any precision;
        computed in float32 with autocast disabled) and ``target`` of the same shape holding only
        0 and 1 (bool, integer or float). Returns a float32 scalar: the mean over the batch of the
        per-sample losses. Its minimum is 0, approached by confident correct logits up to the floor
        on 1 - mTI_fg: (1 - weight) / 2 * 1e-8^(1 - gamma), i.e. 2.5e-5 with ISLA's values.

    Raises:
        ValueError: hyper-parameters outside the ranges above; logits not (B, 1, *spatial) or not
            floating point; target shape different from the logits; target values other than 0/1.

    Example:
        >>> import math, torch
        >>> loss = AsymmetricUnifiedFocalLoss()
        >>> logits = torch.tensor([0.0, math.log(3), -math.log(3), 0.0]).reshape(1, 1, 2, 2)
        >>> target = torch.tensor([1, 1, 0, 0]).reshape(1, 1, 2, 2)
        >>> round(loss(logits, target).item(), 4)
        0.3521
    """

    def __init__(self, weight: float = 0.5, delta: float = 0.6, gamma: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"AsymmetricUnifiedFocalLoss: weight (lambda) must lie in [0, 1], got {weight}")
        if not 0.0 < delta < 1.0:
            raise ValueError(
                f"AsymmetricUnifiedFocalLoss: delta must lie in the open interval (0, 1), got {delta}"
            )
        if not 0.0 <= gamma < 1.0:
            raise ValueError(f"AsymmetricUnifiedFocalLoss: gamma must lie in [0, 1), got {gamma}")
        self.weight = float(weight)
        self.delta = float(delta)
        self.gamma = float(gamma)

    def extra_repr(self) -> str:
        return f"weight={self.weight}, delta={self.delta}, gamma={self.gamma}"

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_logits_and_target(logits, target, type(self).__name__)
        # Half-precision sums over a million voxels lose the small foreground counts that drive the
        # Tversky terms, so everything runs in float32 whatever the caller's autocast state.
        with torch.autocast(device_type=logits.device.type, enabled=False):
            z = logits.float()
            y = target.float()
            return self.per_sample(z, y).mean()

    def per_sample(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Loss of each sample, shape (B,), from float32 logits ``z`` and a float32 0/1 target ``y``."""
        delta, gamma = self.delta, self.gamma
        voxel_dims = tuple(range(1, z.ndim))

        # log p and log(1 - p) from logsigmoid stay finite for any logit, and p^gamma taken as
        # exp(gamma * log p) has a finite gradient in z even where p underflows to 0.
        log_p = F.logsigmoid(z)
        log_not_p = F.logsigmoid(-z)
        background_ce = (1.0 - delta) * torch.exp(gamma * log_p) * (1.0 - y) * (-log_not_p)
        foreground_ce = delta * y * (-log_p)
        focal = (background_ce + foreground_ce).mean(dim=voxel_dims)

        p = torch.sigmoid(z)
        not_p = torch.sigmoid(-z)  # 1 - p without the cancellation near p = 1
        tp = (p * y).sum(dim=voxel_dims)
        fn = (not_p * y).sum(dim=voxel_dims)
        fp = (p * (1.0 - y)).sum(dim=voxel_dims)
        tn = (not_p * (1.0 - y)).sum(dim=voxel_dims)
        # 1 - mTI is formed as (weighted errors) / (denominator) rather than 1 - ratio, so that nearly
        # perfect predictions keep their small error instead of rounding to exactly 0.
        fg_errors = delta * fn + (1.0 - delta) * fp
        bg_errors = delta * fp + (1.0 - delta) * fn
        one_minus_mti_fg = fg_errors / (tp + fg_errors + _SMOOTH)
        one_minus_mti_bg = bg_errors / (tn + bg_errors + _SMOOTH)
        tversky = 0.5 * (one_minus_mti_bg + one_minus_mti_fg.clamp_min(_EPS) ** (1.0 - gamma))

        return self.weight * focal + (1.0 - self.weight) * tversky
