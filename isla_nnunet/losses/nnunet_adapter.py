"""Feed nnU-Net's two-class softmax outputs to the binary (sigmoid) losses.

nnU-Net treats a single lesion label as two classes with a softmax, and its trainers call
``loss(output, target)`` with output logits (B, 2, *spatial) and a label map target (B, 1, *spatial).
For two classes softmax(o)[1] = 1 / (1 + exp(o0 - o1)) = sigmoid(o1 - o0), so the channel difference
is exactly the binary logit whose sigmoid the ISLA losses expect; the ISLA network's head emits
[0, z], making that difference z itself.
"""

from __future__ import annotations

import torch
from torch import nn

from isla_nnunet.losses._validation import check_binary_target


class BinaryFromTwoClassLogits(nn.Module):
    """Adapt nnU-Net's (two-class logits, label map) call to a binary-logit loss.

    Args:
        loss: a loss taking ``(z, y)`` with ``z`` binary logits (B, 1, *spatial) and ``y`` a float32
            0/1 target of the same shape, e.g. :class:`AsymmetricUnifiedFocalLoss` or
            :class:`GeneralizedDiceBCELoss`.

    Call:
        ``loss(output, target)`` with ``output`` (B, 2, *spatial) two-class logits, converted to
        ``z = output[:, 1:] - output[:, 0:1]`` in float32, or (B, 1, *spatial) binary logits passed on
        unchanged (in float32); ``target`` (B, 1, *spatial) holding only 0 and 1 in any dtype (nnU-Net
        delivers float or integer label maps). Returns whatever the wrapped loss returns.

    Raises:
        ValueError: output with a channel count other than 1 or 2; target not (B, 1, *spatial) or
            with a batch or spatial size different from the output; target values other than 0/1
            (nnU-Net's ignore label included: this project does not configure one).

    Example:
        >>> import math, torch
        >>> from isla_nnunet.losses import AsymmetricUnifiedFocalLoss
        >>> loss = BinaryFromTwoClassLogits(AsymmetricUnifiedFocalLoss())
        >>> z = torch.tensor([0.0, math.log(3), -math.log(3), 0.0]).reshape(1, 1, 2, 2)
        >>> output = torch.cat([torch.zeros_like(z), z], dim=1)  # the ISLA head [0, z]
        >>> target = torch.tensor([1.0, 1.0, 0.0, 0.0]).reshape(1, 1, 2, 2)
        >>> round(loss(output, target).item(), 4)
        0.3521
    """

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        owner = type(self).__name__
        if output.ndim < 3 or output.shape[1] not in (1, 2):
            raise ValueError(
                f"{owner}: output must have shape (B, 2, *spatial) two-class logits or (B, 1, *spatial) "
                f"binary logits, got {tuple(output.shape)}"
            )
        expected = (output.shape[0], 1, *output.shape[2:])
        if tuple(target.shape) != expected:
            raise ValueError(
                f"{owner}: target must have shape {expected} (B, 1, *spatial) matching the output "
                f"{tuple(output.shape)}, got {tuple(target.shape)}"
            )
        check_binary_target(target, owner)
        # Subtract in float32 so that the difference of two half-precision logits is not rounded
        # again to half precision.
        logits = output.float()
        if logits.shape[1] == 2:
            logits = logits[:, 1:2] - logits[:, 0:1]
        return self.loss(logits, target.float())
