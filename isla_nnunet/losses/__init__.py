"""ISLA training losses as plain torch modules (no nnU-Net trainer or I/O imports).

- :class:`AsymmetricUnifiedFocalLoss`: ISLA's "UFL" (Yeung et al. 2022).
- :class:`GeneralizedDiceBCELoss`: ISLA's "GDL-BCE" (Sudre et al. 2017 + BCE).
- :class:`ISLADeepSupervisionLoss` and :data:`ISLA_DEEP_SUPERVISION_WEIGHTS`: the fixed
  deep-supervision weighting, final output first as nnU-Net orders outputs.
- :class:`BinaryFocalLoss`: the focal loss of Clèrigues et al. (2019) (Lin et al. 2017).
- :class:`BinaryFromTwoClassLogits`: turns nnU-Net's (two-class logits, label map) call into the
  (binary logit, 0/1 target) call of the losses above.

Typical composition for a trainer with deep supervision::

    ISLADeepSupervisionLoss(BinaryFromTwoClassLogits(AsymmetricUnifiedFocalLoss()))
"""

from isla_nnunet.losses.deep_supervision import ISLA_DEEP_SUPERVISION_WEIGHTS, ISLADeepSupervisionLoss
from isla_nnunet.losses.dice_bce import GeneralizedDiceBCELoss
from isla_nnunet.losses.focal import BinaryFocalLoss
from isla_nnunet.losses.nnunet_adapter import BinaryFromTwoClassLogits
from isla_nnunet.losses.unified_focal import AsymmetricUnifiedFocalLoss

__all__ = [
    "ISLA_DEEP_SUPERVISION_WEIGHTS",
    "AsymmetricUnifiedFocalLoss",
    "BinaryFocalLoss",
    "BinaryFromTwoClassLogits",
    "GeneralizedDiceBCELoss",
    "ISLADeepSupervisionLoss",
]
