"""Both ISLA losses compute in float32 when the network runs under autocast (nnU-Net's AMP)."""

import pytest
import torch

from isla_nnunet.losses import AsymmetricUnifiedFocalLoss, GeneralizedDiceBCELoss


@pytest.mark.parametrize("loss_class", [AsymmetricUnifiedFocalLoss, GeneralizedDiceBCELoss])
def test_bfloat16_autocast_is_computed_in_float32(loss_class):
    torch.manual_seed(0)
    head = torch.nn.Conv3d(1, 1, kernel_size=1)
    x = torch.randn(2, 1, 2, 3, 3)
    target = (torch.rand(2, 1, 2, 3, 3) > 0.7).float()
    target[1] = 0.0  # one sample without lesion
    loss = loss_class()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = head(x)
        value = loss(logits, target)
    assert logits.dtype == torch.bfloat16
    assert value.dtype == torch.float32
    value.backward()
    assert torch.isfinite(value)
    assert all(torch.isfinite(p.grad).all() for p in head.parameters())
    # Same bf16 logits without autocast: the loss itself adds no half-precision rounding.
    assert value.item() == pytest.approx(loss(logits.detach().float(), target).item(), abs=1e-6)
