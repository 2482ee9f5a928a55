"""SE, attention gates and CBAM against NumPy computations of their published formulas on tiny tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from isla_nnunet.networks.attention import (
    CBAM,
    AttentionCoefficients,
    AttentionGate,
    ChannelAttention,
    SpatialAttention,
    SqueezeExcitation,
    global_average_pool,
    global_max_pool,
)
from isla_nnunet.networks.attention.cbam import default_spatial_kernel

from .reference_ops import correlate, linear_resize, relu, sigmoid

torch.manual_seed(0)


def numpy_params(module: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().double().numpy() for k, v in module.state_dict().items()}


def randomise(module: nn.Module, scale: float = 0.5, seed: int = 0) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * scale)
    return module


def hook_output(module: nn.Module, x, *args) -> tuple[torch.Tensor, torch.Tensor]:
    """(module output, the output of its AttentionCoefficients submodule) for one call."""
    seen = []
    coefficients = next(m for m in module.modules() if isinstance(m, AttentionCoefficients))
    handle = coefficients.register_forward_hook(lambda m, a, out: seen.append(out.detach()))
    try:
        out = module(x, *args).detach()
    finally:
        handle.remove()
    return out, seen[0]


# ---------------------------------------------------------------- squeeze-and-excitation (Hu et al.)

@pytest.mark.parametrize("shape", [(2, 16, 3, 5, 4), (2, 16, 6, 7)], ids=["3d", "2d"])
def test_se_equals_manual_squeeze_excite(shape):
    x = torch.randn(shape, dtype=torch.float64)
    se = randomise(SqueezeExcitation(16).double())
    p = numpy_params(se)
    xn = x.numpy()
    z = xn.reshape(shape[0], shape[1], -1).mean(axis=2)                                  # squeeze: (B, C)
    s = sigmoid(relu(z @ p["squeeze_fc.weight"].T + p["squeeze_fc.bias"]) @ p["excite_fc.weight"].T
                + p["excite_fc.bias"])                                                   # excite: (B, C)
    expected = xn * s.reshape(*s.shape, *([1] * (len(shape) - 2)))
    np.testing.assert_allclose(se(x).detach().numpy(), expected, rtol=1e-12, atol=1e-12)


def test_se_reduction_8_sets_the_bottleneck_width():
    assert SqueezeExcitation(64).squeeze_fc.out_features == 8
    assert SqueezeExcitation(64, reduction=4).squeeze_fc.out_features == 16
    # Fewer channels than the ratio still keep one hidden unit.
    assert SqueezeExcitation(4).squeeze_fc.out_features == 1
    with pytest.raises(ValueError, match="must be positive"):
        SqueezeExcitation(8, reduction=0)


def test_se_pooling_is_global_over_the_volume_not_per_slice():
    # Every slice z holds the constant z + 1 in every channel. With W1 = mean over channels (one hidden
    # unit, no bias) and W2 = w_c, the weight of channel c is sigmoid(w_c * squeeze). A global squeeze is
    # the volume mean (1 + 2 + 3 + 4) / 4 = 2.5, one weight per channel for the whole volume; a per-slice
    # squeeze would give each slice its own weight.
    se = SqueezeExcitation(8).double()
    w = torch.linspace(-1.0, 1.0, 8, dtype=torch.float64)
    with torch.no_grad():
        se.squeeze_fc.weight.fill_(1 / 8)
        se.squeeze_fc.bias.zero_()
        se.excite_fc.weight.copy_(w[:, None])
        se.excite_fc.bias.zero_()
    x = torch.arange(1.0, 5.0, dtype=torch.float64).reshape(1, 1, 4, 1, 1).expand(1, 8, 4, 3, 3).clone()
    out, weights = hook_output(se, x)
    assert weights.shape == (1, 8, 1, 1, 1)
    np.testing.assert_allclose(weights.flatten().numpy(), sigmoid(2.5 * w.numpy()), rtol=1e-12)
    ratio = out / x
    assert torch.allclose(ratio, ratio[:, :, :1, :1, :1].expand_as(ratio))


def test_global_pools_cover_every_spatial_axis():
    x = torch.zeros(1, 2, 3, 4, 5)
    x[0, 0, 2, 3, 4] = 60.0
    assert global_average_pool(x).tolist() == [[1.0, 0.0]]
    assert global_max_pool(x).tolist() == [[60.0, 0.0]]


# ---------------------------------------------------------------- attention gates (Schlemper et al.)

def manual_gate(gate: AttentionGate, x: np.ndarray, g: np.ndarray, stride) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, alpha * x) for one sample following Schlemper et al.'s formula, in NumPy."""
    p = numpy_params(gate)
    d = x.ndim - 1
    theta_x = correlate(x, p["theta.weight"], None, [(0, 0)] * d, stride)
    phi_g = correlate(g, p["phi.weight"], p["phi.bias"], [(0, 0)] * d)
    q = correlate(relu(theta_x + phi_g), p["psi.weight"], p["psi.bias"], [(0, 0)] * d)
    alpha = linear_resize(sigmoid(q), x.shape[1:])
    return alpha, alpha * x


@pytest.mark.parametrize("per_channel", [False, True], ids=["AGs", "AGh"])
def test_gate_equals_schlemper_formula_with_anisotropic_subsampling(per_channel):
    stride = (1, 2, 2)   # ISLA's (2, 2, 1) in x, y, z
    x = torch.randn(1, 4, 3, 8, 6, dtype=torch.float64)
    g = torch.randn(1, 6, 3, 4, 3, dtype=torch.float64)
    gate = randomise(AttentionGate(4, 6, stride, nn.Conv3d, per_channel=per_channel).double())
    out, alpha = hook_output(gate, x, g)
    expected_alpha, expected_out = manual_gate(gate, x[0].numpy(), g[0].numpy(), stride)
    assert alpha.shape == (1, 4 if per_channel else 1, 3, 8, 6)
    np.testing.assert_allclose(alpha[0].numpy(), expected_alpha, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out[0].detach().numpy(), expected_out, rtol=1e-10, atol=1e-12)
    # The gate only rescales: out = alpha * x with alpha in [0, 1].
    assert torch.allclose(out, alpha * x)
    assert alpha.min() >= 0 and alpha.max() <= 1


def test_gate_defaults_follow_the_reference_layout():
    gate = AttentionGate(16, 32, (1, 2, 2))
    assert gate.theta.kernel_size == gate.theta.stride == (1, 2, 2) and gate.theta.bias is None
    assert gate.phi.out_channels == gate.theta.out_channels == 8   # half the skip channels
    assert gate.psi.out_channels == 1
    assert AttentionGate(16, 32, (1, 2, 2), per_channel=True).psi.out_channels == 16
    assert AttentionGate(1, 4, (1, 2, 2)).theta.out_channels == 1


def test_gate_saturates_to_pass_through_and_to_zero():
    x, g = torch.randn(1, 4, 2, 4, 4), torch.randn(1, 4, 2, 2, 2)
    gate = AttentionGate(4, 4, (1, 2, 2))
    with torch.no_grad():
        gate.psi.weight.zero_()
        gate.psi.bias.fill_(40.0)
        assert torch.allclose(gate(x, g), x)
        gate.psi.bias.fill_(-40.0)
        assert gate(x, g).abs().max() < 1e-12


def test_gate_in_2d_and_with_an_off_by_one_gating_grid():
    gate = randomise(AttentionGate(4, 6, (2, 2), nn.Conv2d).double())
    x, g = torch.randn(1, 4, 8, 6, dtype=torch.float64), torch.randn(1, 6, 4, 3, dtype=torch.float64)
    expected_alpha, expected_out = manual_gate(gate, x[0].numpy(), g[0].numpy(), (2, 2))
    np.testing.assert_allclose(gate(x, g)[0].detach().numpy(), expected_out, rtol=1e-10, atol=1e-12)
    # A skip of odd size: Wx gives 3x3 but g is 4x3; g's projection is resampled and alpha covers x.
    out, alpha = hook_output(gate, torch.randn(1, 4, 7, 6, dtype=torch.float64), g)
    assert out.shape == (1, 4, 7, 6) and alpha.shape == (1, 1, 7, 6)


def test_gate_rejects_a_stride_of_the_wrong_dimensionality():
    with pytest.raises(ValueError, match="has 2 axes but Conv3d has 3"):
        AttentionGate(4, 4, (2, 2), nn.Conv3d)


# ---------------------------------------------------------------- CBAM (Woo et al.)

def test_cbam_channel_attention_equals_shared_mlp_on_avg_and_max():
    x = torch.randn(2, 32, 3, 4, 5, dtype=torch.float64)
    module = randomise(ChannelAttention(32).double())
    p = numpy_params(module)

    def mlp(v):
        return relu(v @ p["mlp.0.weight"].T + p["mlp.0.bias"]) @ p["mlp.2.weight"].T + p["mlp.2.bias"]

    flat = x.numpy().reshape(2, 32, -1)
    mc = sigmoid(mlp(flat.mean(axis=2)) + mlp(flat.max(axis=2)))
    assert module.mlp[0].out_features == 2   # Woo et al.'s ratio 16
    np.testing.assert_allclose(module(x).detach().numpy(), x.numpy() * mc[:, :, None, None, None], rtol=1e-12)


def test_cbam_spatial_attention_is_a_7x7x3_map_in_0_1_equal_to_the_formula():
    x = torch.randn(1, 5, 4, 9, 8, dtype=torch.float64)
    module = randomise(SpatialAttention(nn.Conv3d).double(), scale=0.3)
    out, ms = hook_output(module, x)
    assert module.conv.conv.kernel_size == (3, 7, 7)   # 7x7x3 in x, y, z
    assert ms.shape == (1, 1, 4, 9, 8)
    assert ms.min() >= 0 and ms.max() <= 1
    p = numpy_params(module)
    xn = x[0].numpy()
    descriptor = np.stack([xn.mean(axis=0), xn.max(axis=0)])
    pads = [(1, 1), (3, 3), (3, 3)]
    expected = sigmoid(correlate(descriptor, p["conv.conv.weight"], p["conv.conv.bias"], pads))
    np.testing.assert_allclose(ms[0].numpy(), expected, rtol=1e-10)
    np.testing.assert_allclose(out[0].detach().numpy(), xn * expected, rtol=1e-10)


def test_cbam_applies_channel_then_spatial_attention():
    x = torch.randn(1, 16, 2, 6, 6, dtype=torch.float64)
    cbam = randomise(CBAM(16, nn.Conv3d).double())
    assert torch.allclose(cbam(x), cbam.spatial(cbam.channel(x)))
    assert not torch.allclose(cbam(x), cbam.channel(cbam.spatial(x)))


def test_cbam_kernel_defaults_and_2d():
    assert default_spatial_kernel(nn.Conv3d) == (3, 7, 7)
    assert default_spatial_kernel(nn.Conv2d) == (7, 7)
    with pytest.raises(ValueError, match="Conv2d or nn.Conv3d"):
        default_spatial_kernel(nn.Conv1d)
    cbam = CBAM(8, nn.Conv2d)
    assert cbam(torch.randn(2, 8, 10, 9)).shape == (2, 8, 10, 9)


def test_coefficients_stay_in_0_1_after_resampling_and_reject_unknown_kinds():
    logits = torch.tensor([[[[-50.0, 50.0], [0.0, 3.0]]]])
    alpha = AttentionCoefficients("spatial")(logits, (5, 7))
    assert alpha.shape == (1, 1, 5, 7) and alpha.min() >= 0 and alpha.max() <= 1
    expected = linear_resize(sigmoid(logits.double().numpy()), (5, 7))
    np.testing.assert_allclose(alpha.numpy(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="kind must be one of"):
        AttentionCoefficients("temporal")
