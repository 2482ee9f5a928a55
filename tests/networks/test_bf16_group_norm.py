"""BF16GroupNorm: GroupNorm in bf16 under a CPU bf16 autocast, plain GroupNorm everywhere else."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from isla_nnunet.networks.bf16_group_norm import BF16GroupNorm, bf16_autocast_active, use_bf16_group_norm
from isla_nnunet.networks.cpu_execution import CPUExecution
from isla_nnunet.networks.unet import ISLAUNet

CL = torch.channels_last_3d


def _norm(channels=8, groups=4) -> BF16GroupNorm:
    torch.manual_seed(0)
    norm = BF16GroupNorm(groups, channels)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-0.5, 0.5)
    return norm


def test_outside_autocast_it_is_groupnorm_exactly():
    norm, x = _norm(), torch.randn(2, 8, 3, 5, 4)
    expected = F.group_norm(x, 4, norm.weight, norm.bias, norm.eps)
    assert torch.equal(norm(x), expected)


def test_hand_computed_values_under_bf16_autocast():
    # One group of four values 1, 2, 3, 4: mean 2.5, variance 1.25; weight 2, bias 1.
    norm = BF16GroupNorm(1, 1, eps=0.0)
    with torch.no_grad():
        norm.weight.fill_(2.0)
        norm.bias.fill_(1.0)
    x = torch.tensor([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 1, 2, 2)
    expected = torch.tensor([-1.5, -0.5, 0.5, 1.5]) / 1.25 ** 0.5 * 2 + 1
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = norm(x)
    assert y.dtype == torch.bfloat16
    assert torch.allclose(y.float().flatten(), expected, rtol=2 ** -7)   # bf16 keeps 8 bits of mantissa


@pytest.mark.parametrize("layout", [torch.contiguous_format, CL])
def test_forward_and_gradients_match_float32_within_bf16_rounding_and_the_layout_is_kept(layout):
    norm, reference = _norm(), _norm()
    x = (torch.randn(2, 8, 4, 6, 5) * 3 + 1).contiguous(memory_format=layout)
    upstream = torch.randn(2, 8, 4, 6, 5)
    x_fast, x_ref = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = norm(x_fast)
    (y.float() * upstream).sum().backward()
    (reference(x_ref) * upstream).sum().backward()
    assert y.is_contiguous(memory_format=layout)
    assert (y.float() - reference(x).detach()).abs().max() < 0.05
    for fast, exact in ((x_fast.grad, x_ref.grad), (norm.weight.grad, reference.weight.grad),
                        (norm.bias.grad, reference.bias.grad)):
        assert fast.dtype == torch.float32
        assert (fast - exact).abs().max() <= 0.02 * exact.abs().max() + 1e-3


def test_float16_autocast_is_not_the_bf16_path():
    x = torch.randn(1, 8, 2, 2, 2)
    assert not bf16_autocast_active(x)
    with torch.autocast("cpu", dtype=torch.float16):
        assert not bf16_autocast_active(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert bf16_autocast_active(x) and not bf16_autocast_active(x.to("meta"))


def test_replacement_shares_parameters_state_dict_keys_and_training_mode():
    net = nn.Sequential(nn.Conv3d(1, 8, 1), nn.Sequential(nn.GroupNorm(4, 8), nn.LeakyReLU()))
    net.eval()
    weight = net[1][0].weight
    optimizer = torch.optim.SGD(net.parameters(), lr=1.0)
    plain_state = {k: v.clone() for k, v in net.state_dict().items()}
    use_bf16_group_norm(net)
    norm = net[1][0]
    assert type(norm) is BF16GroupNorm and norm.weight is weight and not norm.training
    assert list(net.state_dict()) == list(plain_state)
    net.load_state_dict(plain_state)          # a checkpoint of the plain network loads
    weight.grad = torch.ones_like(weight)
    optimizer.step()                          # the optimizer made before the swap still reaches it
    assert torch.equal(norm.weight, plain_state["1.0.weight"] - 1)


def test_a_groupnorm_without_affine_parameters_is_replaced_too():
    net = use_bf16_group_norm(nn.Sequential(nn.GroupNorm(2, 4, affine=False)))
    assert type(net[0]) is BF16GroupNorm and net[0].weight is None and list(net.state_dict()) == []
    x = torch.randn(1, 4, 2, 2, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert (net(x).float() - F.group_norm(x, 2)).abs().max() < 0.05


@pytest.mark.parametrize("execution, replaced", [
    (CPUExecution(torch.bfloat16, channels_last=True), True),
    (CPUExecution(torch.bfloat16, channels_last=True, bf16_group_norm=False), False),
    (CPUExecution(None, channels_last=True), False),
])
def test_cpu_execution_gives_bf16_networks_the_bf16_groupnorm(execution, replaced):
    net = execution.apply(ISLAUNet(2, 2, (8, 16), [(1, 3, 3)] * 2, [(1, 1, 1), (1, 2, 2)]))
    kinds = {type(m) for m in net.modules() if isinstance(m, nn.GroupNorm)}
    assert kinds == ({BF16GroupNorm} if replaced else {nn.GroupNorm})
