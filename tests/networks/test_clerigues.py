"""Clèrigues et al.'s asymmetric residual U-Net: shapes, the 75/25 parameter split, its blocks' algebra."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from isla_nnunet.networks.clerigues import (
    CleriguesUNet,
    PoolConvDownsample,
    ResidualConvBlock,
    encoder_share,
)
from isla_nnunet.networks.cpu_execution import CPUExecution
from isla_nnunet.networks.layers import conv_dimension, max_pool_for, transposed_conv_for


def test_patch_of_the_paper_gives_two_class_logits_of_the_same_size():
    net = CleriguesUNet(4, 2).eval()
    out = net(torch.randn(3, 4, 16, 24, 24))   # 24 x 24 x 16 voxels (x, y, z) in array order z, y, x
    assert out.shape == (3, 2, 16, 24, 24) and out.dtype == torch.float32
    assert torch.isfinite(out).all()


def test_encoder_holds_three_quarters_of_the_parameters():
    # The paper: "75% and 25% of the parameters" for encoder and decoder (§3.2).
    assert encoder_share(CleriguesUNet(4, 2)) == pytest.approx(0.75, abs=0.01)


def test_parameter_count_of_a_tiny_network_by_hand():
    # features (2, 4), 1 input channel, 2 classes, 3x3x3 kernels, one PReLU slope per layer.
    # encoder: stem conv 1->2 (54 + 2) + PReLU 1; level-0 block 2 x (108 + 2) + 2 PReLU = 222;
    #   down-sampling conv 2->2 (110) + PReLU 1 = 111; level-1 block 2 x (432 + 4) + 2 = 874; total 1264
    # decoder: transposed conv 4->2 (216 + 2) + PReLU 1; block conv 2->2 110 + PReLU 1; head 1x1x1 2->2
    #   (4 + 2); total 336
    net = CleriguesUNet(1, 2, features_per_stage=(2, 4))
    assert sum(p.numel() for p in net.encoder.parameters()) == 1264
    assert sum(p.numel() for p in net.decoder.parameters()) == 336


def test_short_residual_block_with_zero_convolutions_is_the_nonlinearity_of_its_input():
    block = ResidualConvBlock(nn.Conv3d, 3, 2, 3, nn.PReLU, None)
    for conv in (m for m in block.modules() if isinstance(m, nn.Conv3d)):
        nn.init.zeros_(conv.weight)
        nn.init.zeros_(conv.bias)
    x = torch.randn(1, 3, 4, 4, 4)
    assert torch.equal(block(x), block.act(x))
    assert len([m for m in block.modules() if isinstance(m, nn.Conv3d)]) == 2


def test_downsampling_concatenates_max_pooling_and_a_strided_convolution():
    down = PoolConvDownsample(nn.Conv3d, 2, (2, 2, 2), 3, nn.PReLU, None)
    x = torch.randn(1, 2, 4, 6, 8)
    out = down(x)
    assert out.shape == (1, 4, 2, 3, 4)
    assert torch.equal(out[:, :2], nn.functional.max_pool3d(x, 2))
    assert torch.allclose(out[:, 2:], down.act(down.conv(x)))


def test_long_residual_carries_the_finest_encoder_features_to_the_head():
    # With every decoder weight but the head zeroed, the output is the head applied to
    # PReLU(PReLU(0 + skip)): the finest encoder features reach the output through the long sum alone.
    torch.manual_seed(0)
    net = CleriguesUNet(1, 2, features_per_stage=(2, 4), dropout_op=None).eval()
    for module in (*net.decoder.upsamples, *net.decoder.blocks):
        for p in module.parameters():
            if p.dim() > 1 or p.numel() > 1:   # weights and biases, not the PReLU slopes
                nn.init.zeros_(p)
    x = torch.randn(1, 1, 4, 4, 4)
    skip = net.encoder(x)[0]
    merge, block = net.decoder.merges[0], net.decoder.blocks[0]
    expected = net.decoder.head(block.act(merge(skip)))
    assert torch.allclose(net(x), expected, atol=1e-6)


def test_gradients_reach_every_parameter():
    net = CleriguesUNet(4, 2, features_per_stage=(4, 8, 16))
    net(torch.randn(2, 4, 8, 8, 8)).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_a_2d_network_from_the_conv_class():
    net = CleriguesUNet(2, 2, features_per_stage=(4, 8), conv_op=nn.Conv2d)
    assert net(torch.randn(1, 2, 8, 8)).shape == (1, 2, 8, 8)
    assert isinstance(net.encoder.downsamples[0][0].pool, nn.MaxPool2d)


def test_anisotropic_strides():
    net = CleriguesUNet(2, 2, features_per_stage=(4, 8, 16), strides=[(1, 1, 1), (1, 2, 2), (2, 2, 2)])
    assert net(torch.randn(1, 2, 4, 8, 8)).shape == (1, 2, 4, 8, 8)


def test_bf16_setting_still_returns_float32_logits():
    net = CPUExecution(torch.bfloat16, channels_last=True).apply(CleriguesUNet(2, 2, features_per_stage=(4, 8)))
    reference = CleriguesUNet(2, 2, features_per_stage=(4, 8))
    reference.load_state_dict(net.state_dict())
    x = torch.randn(1, 2, 8, 8, 8)
    out = net.eval()(x)
    assert out.dtype == torch.float32
    assert (out - reference.eval()(x)).abs().max() < 0.1


def test_deep_supervision_can_only_be_switched_off():
    net = CleriguesUNet(2, 2, features_per_stage=(4, 8))
    net.decoder.deep_supervision = False   # what nnU-Net's trainer does
    with pytest.raises(ValueError, match="single output"):
        net.decoder.deep_supervision = True


def test_feature_map_size_grows_with_the_patch():
    net = CleriguesUNet(4, 2)
    small, large = net.compute_conv_feature_map_size((16, 24, 24)), net.compute_conv_feature_map_size((32, 48, 48))
    assert large == 8 * small


@pytest.mark.parametrize("kwargs, match", [
    ({"features_per_stage": (32,)}, "at least two"),
    ({"features_per_stage": (32, 48)}, "double"),
    ({"kernel_size": 2}, "odd"),
    ({"strides": [(1, 1, 1), (2, 2, 2)]}, "strides has 2 entries"),
    ({"conv_op": nn.Linear}, "conv_op must be"),
])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CleriguesUNet(4, 2, **kwargs)


@pytest.mark.parametrize("conv, pool, transposed", [
    (nn.Conv1d, nn.MaxPool1d, nn.ConvTranspose1d),
    (nn.Conv2d, nn.MaxPool2d, nn.ConvTranspose2d),
    (nn.Conv3d, nn.MaxPool3d, nn.ConvTranspose3d),
])
def test_operators_follow_the_convolution_dimension(conv, pool, transposed):
    class Subclass(conv):
        pass

    assert max_pool_for(conv) is pool and transposed_conv_for(conv) is transposed
    assert conv_dimension(Subclass) == conv_dimension(conv)
