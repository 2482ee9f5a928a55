"""Reading attention coefficients with forward hooks: names, levels, values, and no lasting side effects."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from isla_nnunet.networks import ISLAUNet
from isla_nnunet.networks.attention import (
    CBAM,
    AttentionGate,
    SqueezeExcitation,
    capture_attention_maps,
    coefficient_modules,
    recording_attention,
)

FEATURES = (8, 8, 16, 16)
STRIDES = [(1, 1, 1), (1, 2, 2), (1, 2, 2), (1, 2, 2)]


def tiny(**slots) -> ISLAUNet:
    torch.manual_seed(0)
    return ISLAUNet(2, 2, FEATURES, [(1, 3, 3)] * 4, STRIDES, **slots)


X = torch.randn(1, 2, 2, 16, 8)
SKIP_SHAPES = {1: (2, 16, 8), 2: (2, 8, 4), 3: (2, 4, 2)}   # level -> (z, y, x); level 4 is the bottleneck


def test_seags_maps_are_named_by_slot_level_and_kind_finest_first():
    maps = capture_attention_maps(tiny(skip_attention_op=SqueezeExcitation, gate_op=AttentionGate), X)
    assert [m.name for m in maps] == [
        "skip_level1_channel", "skip_level2_channel", "skip_level3_channel",
        "gate_level1_spatial", "gate_level2_spatial", "gate_level3_spatial",
    ]
    for m in maps:
        channels = FEATURES[m.level - 1]
        expected = (1, channels, 1, 1, 1) if m.kind == "channel" else (1, 1, *SKIP_SHAPES[m.level])
        assert m.coefficients.shape == expected, m.name
        assert m.coefficients.min() >= 0 and m.coefficients.max() <= 1


def test_gate_maps_are_the_alpha_that_gates_the_skip():
    net = tiny(gate_op=AttentionGate, gate_kwargs={"per_channel": True}).eval()
    skips_in, skips_out = {}, {}

    def keep(module, args, out):
        skips_in[module], skips_out[module] = args[0], out

    for gate in net.decoder.gates:
        gate.register_forward_hook(keep)
    maps = {m.level: m for m in capture_attention_maps(net, X)}
    assert {m.kind for m in maps.values()} == {"hybrid"}
    # Decoder gates run coarsest first: gate k serves level 3 - k.
    for k, gate in enumerate(net.decoder.gates):
        alpha = maps[3 - k].coefficients
        assert alpha.shape == (1, FEATURES[2 - k], *SKIP_SHAPES[3 - k])
        assert torch.allclose(skips_out[gate], alpha * skips_in[gate])


def test_cbam_gives_channel_and_spatial_maps_per_skip():
    maps = capture_attention_maps(tiny(skip_attention_op=CBAM), X)
    assert [(m.level, m.kind) for m in maps] == [(1, "channel"), (1, "spatial"), (2, "channel"), (2, "spatial"),
                                                 (3, "channel"), (3, "spatial")]
    assert [m.is_spatial for m in maps] == [False, True] * 3


def test_no_attention_gives_no_maps_and_foreign_networks_are_refused():
    assert capture_attention_maps(tiny(), X) == []
    with pytest.raises(TypeError, match="no ISLA U-Net attention slots"):
        coefficient_modules(nn.Conv3d(2, 2, 1))


def test_capture_restores_the_mode_removes_its_hooks_and_leaves_outputs_unchanged():
    net = tiny(skip_attention_op=SqueezeExcitation, gate_op=AttentionGate).train()
    net.eval()
    with torch.no_grad():
        before = net(X)
    net.train()
    maps = capture_attention_maps(net, X)
    assert net.training and len(maps) == 6
    assert all(not m._forward_hooks for m in net.modules())
    with torch.no_grad():
        assert torch.equal(net.eval()(X), before)


def test_recording_collects_every_forward_pass_inside_the_block():
    net = tiny(gate_op=AttentionGate).eval()
    with torch.no_grad(), recording_attention(net) as maps:
        net(X)
        net(X[:, :, :, :8, :])
    assert len(maps) == 6
    assert maps[3].coefficients.shape[2:] != maps[0].coefficients.shape[2:]
