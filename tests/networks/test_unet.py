"""ISLAUNet: full-grid forward, deep-supervision heads, exact even-kernel padding, hand-counted parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from isla_nnunet import reference
from isla_nnunet.networks import ISLAUNet, SamePadConv, same_padding
from isla_nnunet.networks.attention import CBAM, AttentionGate, SqueezeExcitation
from isla_nnunet.networks.presets import isla_arch_kwargs, with_block

from .reference_ops import correlate, tf_same_pads

STRIDES_2 = [(1, 1, 1), (1, 2, 2)]


def plans_network(block: str = "std", num_classes: int = 2, **overrides) -> ISLAUNet:
    """The network the ISLA plans describe, with operator classes instead of dotted paths."""
    kwargs = with_block(isla_arch_kwargs()["arch_kwargs"], block)
    ops = {"conv_op": nn.Conv3d, "norm_op": nn.GroupNorm, "dropout_op": nn.Dropout,
           "nonlin": nn.LeakyReLU if block == "std" else nn.ReLU}
    return ISLAUNet(2, num_classes, **{**kwargs, **ops, **overrides})


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_full_reference_grid_forward_on_cpu_gives_sigmoid_compatible_two_class_logits():
    torch.manual_seed(0)
    torch.set_num_threads(2)
    net = plans_network().eval()
    x = torch.randn(1, 2, *reference.SHAPE_ZYX)
    with torch.no_grad():
        out = net(x)
    assert out.shape == (1, 2, *reference.SHAPE_ZYX)
    assert torch.isfinite(out).all()
    assert (out[:, 0] == 0).all()
    # nnU-Net's softmax over [0, z] is ISLA's sigmoid(z) (the reason for the zero channel).
    assert torch.allclose(torch.softmax(out, 1)[:, 1], torch.sigmoid(out[:, 1]), atol=1e-6)
    assert out[:, 1].std() > 0


def constant_heads(net: ISLAUNet) -> None:
    """Head k (bottleneck first) outputs the constant k + 1 everywhere."""
    with torch.no_grad():
        for k, head in enumerate(net.decoder.heads):
            head.weight.zero_()
            head.bias.fill_(k + 1.0)


def test_deep_supervision_returns_every_head_final_first_at_full_resolution():
    net = ISLAUNet(2, 2, (8, 8, 8, 8), [(1, 3, 3)] * 4, STRIDES_2 + [(1, 2, 2)] * 2, deep_supervision=True)
    net.eval()
    constant_heads(net)
    with torch.no_grad():
        outputs = net(torch.randn(1, 2, 2, 16, 8))
    # Four levels: bottleneck + three decoder stages. nnU-Net's order is the final output first, so
    # the constants read 4 (final head), 3, 2, 1 (bottleneck head).
    assert len(outputs) == 4
    for out, value in zip(outputs, [4.0, 3.0, 2.0, 1.0], strict=True):
        assert out.shape == (1, 2, 2, 16, 8)
        assert (out[:, 1] == value).all() and (out[:, 0] == 0).all()
    # nnU-Net switches deep supervision off for inference through the decoder attribute.
    net.decoder.deep_supervision = False
    with torch.no_grad():
        single = net(torch.randn(1, 2, 2, 16, 8))
    assert isinstance(single, torch.Tensor) and (single[:, 1] == 4.0).all()


def test_deep_supervision_on_the_isla_layout_has_six_heads():
    net = plans_network(deep_supervision=True, features_per_stage=[8] * 6)
    with torch.no_grad():
        outputs = net.eval()(torch.zeros(1, 2, 2, 64, 64))
    assert len(outputs) == 6 and all(o.shape == (1, 2, 2, 64, 64) for o in outputs)


@pytest.mark.parametrize(("size", "stride"), [
    ((3, 5, 6), (1, 1, 1)), ((2, 8, 4), (1, 1, 1)), ((2, 8, 4), (1, 2, 2)), ((4, 4, 8), (1, 2, 2)),
])
def test_even_kernel_same_padding_equals_tensorflow_same(size, stride):
    # Exact for sizes divisible by the stride (always the case on the reference grid).
    kernel = (2, 4, 4)
    generator = torch.Generator().manual_seed(1)
    conv = SamePadConv(nn.Conv3d, 2, 3, kernel, stride).double()
    with torch.no_grad():
        for p in conv.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64))
    x = torch.randn(1, 2, *size, generator=generator, dtype=torch.float64)
    pads = tf_same_pads(size, kernel, stride)
    expected = correlate(x[0].numpy(), conv.conv.weight.detach().numpy(), conv.conv.bias.detach().numpy(),
                         pads, stride)
    out = conv(x)[0].detach().numpy()
    assert out.shape == (3, *[-(-n // s) for n, s in zip(size, stride, strict=True)])
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    assert same_padding(kernel, stride) == tuple(tuple(p) for p in pads)


# Parameter counts derived by hand for features (8, 16), one down-sampling (1, 2, 2), 2 classes.
# Conv(ci -> co, kernel of v voxels, bias) = ci*co*v + co; GroupNorm(c) = 2c; 1x1 head = c + 1.
STD_COUNT = (
    (2 * 8 * 32 + 8) + 16 + (8 * 8 * 32 + 8) + 16            # encoder level 1, 4x4x2 kernels: 2608
    + (8 * 16 * 32 + 16) + 32 + (16 * 16 * 32 + 16) + 32     # encoder level 2 (max-pool has none): 12384
    + (24 * 8 * 32 + 8) + 16 + (8 * 8 * 32 + 8) + 16         # decoder level 1 on [skip; upsampled]: 8240
    + (16 + 1) + (8 + 1)                                     # heads (bottleneck, final): 26
)
RES_COUNT = (
    (2 * 8 * 18 + 8) + 16 + (8 * 8 * 18 + 8) + (2 * 8 + 8)                    # input block, 3x3x2: 1496
    + 16 + (8 * 16 * 32 + 16) + 32 + (16 * 16 * 18 + 16) + (8 * 16 + 16)     # strided 4x4x2 block: 8928
    + 48 + (24 * 8 * 18 + 8) + 16 + (8 * 8 * 18 + 8) + (24 * 8 + 8)          # decoder block: 4888
    + (16 + 1) + (8 + 1)
)
SE_8 = (8 * 1 + 1) + (1 * 8 + 8)                              # SE on 8 channels, 8 // 8 = 1 hidden unit
AG_INNER = 8 * 4 * 4 + (16 * 4 + 4)                           # Wx: 1x2x2 kernel, 4 = 8 // 2, no bias; Wg
CBAM_8 = (8 * 1 + 1) + (1 * 8 + 8) + (2 * 147 + 1)            # MLP (hidden max(1, 8 // 16)); 7x7x3 conv


@pytest.mark.parametrize(("block", "slots", "expected"), [
    ("std", {}, STD_COUNT),
    ("res", {}, RES_COUNT),
    ("std", {"skip_attention_op": SqueezeExcitation}, STD_COUNT + SE_8),
    ("std", {"gate_op": AttentionGate}, STD_COUNT + AG_INNER + (4 + 1)),
    ("std", {"gate_op": AttentionGate, "gate_kwargs": {"per_channel": True}},
     STD_COUNT + AG_INNER + (4 * 8 + 8)),
    ("std", {"skip_attention_op": CBAM}, STD_COUNT + CBAM_8),
    ("std", {"skip_attention_op": SqueezeExcitation, "gate_op": AttentionGate},
     STD_COUNT + SE_8 + AG_INNER + 5),
], ids=["std", "res", "se", "ags", "agh", "cbam", "seags"])
def test_parameter_count_of_a_tiny_net_matches_the_hand_count(block, slots, expected):
    kernels = [(2, 4, 4)] * 2 if block == "std" else [(2, 3, 3)] * 2
    extra = ({"downsample_kernel_sizes": [(2, 4, 4)] * 2, "nonlin": nn.ReLU, "nonlin_kwargs": {}}
             if block == "res" else {})
    net = ISLAUNet(2, 2, (8, 16), kernels, STRIDES_2, block=block, **extra, **slots)
    assert STD_COUNT == 23258 and RES_COUNT == 15338
    assert n_params(net) == expected


def test_input_is_clipped_to_the_zscore_range():
    net = ISLAUNet(2, 1, (8, 8), [(1, 3, 3)] * 2, STRIDES_2, input_clip=(-5.0, 5.0)).eval()
    x = torch.randn(1, 2, 2, 8, 8) * 10
    with torch.no_grad():
        assert torch.equal(net(x), net(x.clamp(-5, 5)))
        assert net(x).shape == (1, 1, 2, 8, 8)


def test_inconsistent_layouts_are_rejected():
    with pytest.raises(ValueError, match="kernel_sizes has 1 entries"):
        ISLAUNet(2, 2, (8, 8), [(1, 3, 3)], STRIDES_2)
    with pytest.raises(ValueError, match="num_classes must be 1 or 2"):
        ISLAUNet(2, 3, (8, 8), [(1, 3, 3)] * 2, STRIDES_2)
    with pytest.raises(ValueError, match="block must be one of"):
        ISLAUNet(2, 2, (8, 8), [(1, 3, 3)] * 2, STRIDES_2, block="dense")


def test_block_families_are_classes_and_the_plans_names_read_as_them():
    from isla_nnunet.networks.blocks import ResUNetBlocks, StdBlock, StdUNetBlocks

    kernels, extra = [(2, 3, 3)] * 2, {"downsample_kernel_sizes": [(2, 4, 4)] * 2}
    by_name = ISLAUNet(2, 2, (8, 16), kernels, STRIDES_2, block="res", **extra)
    by_class = ISLAUNet(2, 2, (8, 16), kernels, STRIDES_2, block=ResUNetBlocks, **extra)
    assert {k: v.shape for k, v in by_name.state_dict().items()} == \
        {k: v.shape for k, v in by_class.state_dict().items()}

    class ResEncoderStdDecoder(ResUNetBlocks):
        decoder_stage = staticmethod(StdUNetBlocks.decoder_stage)

    mixed = ISLAUNet(2, 2, (8, 16), kernels, STRIDES_2, block=ResEncoderStdDecoder, **extra)
    assert isinstance(mixed.decoder.stages[0], StdBlock)
    assert type(mixed.encoder.stages[1]) is type(by_class.encoder.stages[1])
    assert mixed(torch.zeros(1, 2, 2, 8, 8)).shape == (1, 2, 2, 8, 8)


def test_the_decoder_mirrors_its_encoder():
    net = ISLAUNet(2, 2, (8, 16, 32), [(1, 3, 3)] * 3, [(1, 1, 1), (1, 2, 2), (1, 2, 2)])
    # coarsest decoder stage first: [skip of level 1 (16); upsampled bottleneck (32)] -> 16, then 8 + 16 -> 8
    first_convs = [stage[0].conv for stage in net.decoder.stages]
    assert [(c.in_channels, c.out_channels) for c in first_convs] == [(48, 16), (24, 8)]
    assert net.decoder.heads[0].in_channels == 32 and net.encoder.strides == net.strides
