"""Properties both ISLA losses share: finite on empty masks, minimal at a perfect prediction,
computed in float32 under autocast (nnU-Net's AMP)."""

import pytest
import torch

from isla_nnunet.losses import AsymmetricUnifiedFocalLoss, GeneralizedDiceBCELoss

LOSSES = [AsymmetricUnifiedFocalLoss, GeneralizedDiceBCELoss]
# Smallest value at confident correct logits: 0 for GDL+BCE; for the UFL the clamp of 1 - mTI_fg
# leaves 0.5 * 0.5 * (1e-8)^0.5 = 2.5e-5.
FLOOR = {AsymmetricUnifiedFocalLoss: 1e-4, GeneralizedDiceBCELoss: 1e-6}


def volume(values) -> torch.Tensor:
    """Four voxels as one (1, 1, 2, 2) sample."""
    return torch.tensor(values, dtype=torch.float32).reshape(1, 1, 2, 2)


@pytest.mark.parametrize("loss_class", LOSSES)
@pytest.mark.parametrize(
    "logits", [[-2.0, 0.0, 1.0, -3.0], [-200.0] * 4, [200.0] * 4], ids=["moderate", "p-is-0", "p-is-1"]
)
def test_empty_mask_gives_finite_value_and_gradient(loss_class, logits):
    z = volume(logits).requires_grad_(True)
    value = loss_class()(z, torch.zeros_like(z))
    value.backward()
    assert torch.isfinite(value)
    assert torch.isfinite(z.grad).all()


@pytest.mark.parametrize("loss_class", LOSSES)
@pytest.mark.parametrize("target", [[1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]], ids=["lesion", "empty", "full"])
def test_perfect_prediction_approaches_zero_and_beats_imperfect_ones(loss_class, target):
    y = volume(target)
    sign = 2.0 * y - 1.0
    loss = loss_class()
    perfect = (40.0 * sign).requires_grad_(True)
    best = loss(perfect, y)
    best.backward()
    assert torch.isfinite(perfect.grad).all()
    assert 0.0 <= best.item() < FLOOR[loss_class]
    one_voxel_wrong = 40.0 * sign
    one_voxel_wrong[..., -1, -1] *= -1.0
    for logits in (3.0 * sign, sign, torch.zeros_like(y), -sign, one_voxel_wrong):
        assert best.item() < loss(logits, y).item()


@pytest.mark.parametrize("loss_class", LOSSES)
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
