"""Generalized Dice loss plus binary cross-entropy (ISLA's "GDL-BCE").

References: C. H. Sudre, W. Li, T. Vercauteren, S. Ourselin, M. J. Cardoso, "Generalised Dice overlap
as a deep learning loss function for highly unbalanced segmentations", DLMIA 2017, LNCS 10553,
pp. 240-248 (generalized Dice); ISLA (Roca et al., §3.2.3.1) trains with the plain sum GDL + BCE.

With p = sigmoid(logit), y in {0, 1} and the two classes l in {lesion, background} (r_lesion = y,
p_lesion = p, r_background = 1 - y, p_background = 1 - p), per sample:

    GDL = 1 - 2 * sum_l w_l sum_n r_ln p_ln / sum_l w_l sum_n (r_ln + p_ln),  w_l = 1 / (sum_n r_ln)^2
    BCE = mean_n [-y log p - (1 - y) log(1 - p)]
    L = mean over the batch of (GDL + BCE)

Empty classes: a sample without lesion (or, symmetrically, without background) has sum_n r_ln = 0 and
an infinite weight. The empty class instead receives the weight of the other class, the largest
finite weight, as MONAI's GeneralizedDiceLoss does. Both weights are then equal, the denominator is
2N for N voxels and GDL reduces to mean(p): the fraction of lesion probability wrongly spent on an
empty case, 0 for a perfect prediction, with a gradient of 1/N per voxel. Clamping the empty sum to 1
instead would give the empty class a weight far above the background's, making GDL nearly constant
(about 1) on empty cases unless sum p is below ~1/N.

No smoothing constant: the weights only enter as a ratio, so they are rescaled to a maximum of 1 (the
smallest non-empty class), after which the denominator is at least that class's voxel count, >= 1.
The ratio is therefore always defined, and no additive constant biases small lesions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from isla_nnunet.losses._validation import check_logits_and_target


class GeneralizedDiceBCELoss(nn.Module):
    """Generalized Dice loss over {lesion, background} plus binary cross-entropy, from binary logits.

    No arguments: ISLA weighs the two terms equally (plain sum).

    Call:
        ``loss(logits, target)`` with ``logits`` (B, 1, *spatial) floating point (computed in
        float32 with autocast disabled) and ``target`` of the same shape holding only 0 and 1
        (bool, integer or float). Returns a float32 scalar: the batch mean of the per-sample
        GDL + BCE. Its minimum is 0 (confident correct logits).

    Raises:
        ValueError: logits not (B, 1, *spatial) or not floating point; target shape different from
            the logits; target values other than 0/1.

    Example:
        >>> import math, torch
        >>> loss = GeneralizedDiceBCELoss()
        >>> logits = torch.tensor([0.0, math.log(3), -math.log(3), 0.0]).reshape(1, 1, 2, 2)
        >>> target = torch.tensor([1, 1, 0, 0]).reshape(1, 1, 2, 2)
        >>> round(loss(logits, target).item(), 4)
        0.8654
    """

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_logits_and_target(logits, target, type(self).__name__)
        # float32 regardless of autocast: the class weights span 1 / N^2 for N ~ 1e6 voxels.
        with torch.autocast(device_type=logits.device.type, enabled=False):
            z = logits.float()
            y = target.float()
            return self.per_sample(z, y).mean()

    @staticmethod
    def per_sample(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Loss of each sample, shape (B,), from float32 logits ``z`` and a float32 0/1 target ``y``."""
        voxel_dims = tuple(range(1, z.ndim))
        p = torch.sigmoid(z)
        not_p = torch.sigmoid(-z)

        # Columns: lesion, background.
        reference = torch.stack([y.sum(dim=voxel_dims), (1.0 - y).sum(dim=voxel_dims)], dim=1)
        intersection = torch.stack(
            [(y * p).sum(dim=voxel_dims), ((1.0 - y) * not_p).sum(dim=voxel_dims)], dim=1
        )
        predicted = torch.stack([p.sum(dim=voxel_dims), not_p.sum(dim=voxel_dims)], dim=1)

        # w_l = 1 / r_l^2 rescaled by the smallest non-empty count: (r_min / r_l)^2 in (0, 1]; an
        # empty class takes 1, the weight of the other (then only) class.
        empty = reference == 0
        r_min = reference.masked_fill(empty, float("inf")).amin(dim=1, keepdim=True)
        weights = torch.where(empty, torch.ones_like(reference), (r_min / reference.clamp_min(1.0)) ** 2)

        numerator = 2.0 * (weights * intersection).sum(dim=1)
        denominator = (weights * (reference + predicted)).sum(dim=1)
        dice_loss = 1.0 - numerator / denominator

        bce = F.binary_cross_entropy_with_logits(z, y, reduction="none").mean(dim=voxel_dims)
        return dice_loss + bce
