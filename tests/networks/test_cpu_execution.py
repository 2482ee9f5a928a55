"""CPU execution settings: which precision a setting selects, and what autocast does to an ISLA U-Net."""

from __future__ import annotations

import contextlib

import pytest
import torch

from isla_nnunet.networks import cpu_execution
from isla_nnunet.networks.cpu_execution import CPUExecution
from isla_nnunet.networks.unet import ISLAUNet

STRIDES = [(1, 1, 1), (1, 2, 2), (1, 2, 2)]


@pytest.mark.parametrize(
    "setting, native, dtype",
    [
        ("auto", True, torch.bfloat16),
        ("auto", False, None),          # emulated bf16 is slower than float32: auto falls back
        (None, True, torch.bfloat16),
        ("bf16", False, torch.bfloat16),  # asked for explicitly
        (" BF16 ", True, torch.bfloat16),
        ("fp32", True, None),
    ],
)
def test_setting_selects_precision(monkeypatch, setting, native, dtype):
    monkeypatch.setattr(cpu_execution, "cpu_has_native_bf16", lambda: native)
    execution = CPUExecution.from_setting(setting)
    assert execution.autocast_dtype == dtype and execution.channels_last


def test_environment_variable_and_bad_setting(monkeypatch):
    monkeypatch.setenv("ISLA_CPU_PRECISION", "fp32")
    assert CPUExecution.from_environment().autocast_dtype is None
    monkeypatch.setenv("ISLA_CPU_PRECISION", "half")
    with pytest.raises(ValueError, match="must be one of auto, bf16, fp32; got 'half'"):
        CPUExecution.from_environment()


def _net(conv_op=torch.nn.Conv3d, kernel=(2, 4, 4)) -> ISLAUNet:
    torch.manual_seed(0)
    return ISLAUNet(2, 2, (8, 8, 16), [kernel] * 3, STRIDES, conv_op=conv_op, deep_supervision=True).eval()


def test_bf16_forward_returns_float32_close_to_float32():
    x = torch.randn(1, 2, 4, 16, 16)
    reference, fast = _net(), CPUExecution(torch.bfloat16, channels_last=True).apply(_net())
    with torch.no_grad():
        expected, outputs = reference(x), fast(x)
    for a, b in zip(expected, outputs, strict=True):
        assert b.dtype == torch.float32 and b.shape == a.shape
        # bf16 keeps 8 bits of mantissa: logits agree to a few percent of their spread.
        assert (a - b).abs().max() <= 0.05 * a.abs().max() + 1e-3
    assert all(p.is_contiguous(memory_format=torch.channels_last_3d) for p in fast.parameters() if p.dim() == 5)


def test_default_network_runs_in_float32_and_the_setting_is_off_under_outer_autocast():
    net = _net()
    assert net.cpu_execution == CPUExecution()
    x = torch.randn(1, 2, 4, 16, 16)
    execution = CPUExecution(torch.bfloat16)
    assert isinstance(CPUExecution().context(x), contextlib.nullcontext)  # float32: no autocast
    with torch.autocast("cpu", dtype=torch.bfloat16):
        # An outer autocast (e.g. a caller's) is left as it is rather than entered twice.
        assert not isinstance(execution.context(x), torch.autocast)
    assert isinstance(execution.context(x), torch.autocast)


def test_two_dimensional_network_keeps_its_memory_layout():
    net = ISLAUNet(2, 1, (8, 8), [(3, 3)] * 2, [(1, 1), (2, 2)], conv_op=torch.nn.Conv2d)
    CPUExecution(None, channels_last=True).apply(net)
    with torch.no_grad():
        assert net(torch.randn(1, 2, 8, 8)).shape == (1, 1, 8, 8)
