import pytest
import torch

from isla_nnunet.training.schedule import LinearDecayLR


def _optimizer():
    return torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=5e-4)


@pytest.mark.parametrize(("epoch", "expected"), [
    (0, 5e-4),
    (150, 5e-4 + (5e-6 - 5e-4) * 150 / 299),
    (299, 5e-6),
    (400, 5e-6),   # past the end the rate stays at its final value
    (-3, 5e-4),
])
def test_isla_schedule_values(epoch, expected):
    schedule = LinearDecayLR(_optimizer(), 5e-4, 5e-6, num_epochs=300)
    assert schedule.lr_at(epoch) == pytest.approx(expected, rel=1e-12)


def test_step_sets_the_optimizer_rate_from_the_epoch_alone():
    optimizer = _optimizer()
    schedule = LinearDecayLR(optimizer, 5e-4, 5e-6, num_epochs=11)
    schedule.step(10)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(5e-6)
    # A resumed run calls step(epoch) directly: the same epoch gives the same rate.
    resumed_optimizer = _optimizer()
    resumed = LinearDecayLR(resumed_optimizer, 5e-4, 5e-6, num_epochs=11)
    schedule.step(5), resumed.step(5)
    assert resumed_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"] == pytest.approx(2.525e-4)
    assert schedule.get_last_lr() == [pytest.approx(2.525e-4)]


def test_single_epoch_run_uses_the_initial_rate():
    schedule = LinearDecayLR(_optimizer(), 5e-4, 5e-6, num_epochs=1)
    assert schedule.lr_at(0) == pytest.approx(5e-4)


def test_zero_epochs_is_rejected():
    with pytest.raises(ValueError, match="num_epochs"):
        LinearDecayLR(_optimizer(), 5e-4, 5e-6, num_epochs=0)


def test_optimizer_starts_at_the_initial_rate():
    # torch's scheduler constructor takes one step; it must land on epoch 0, not 1.
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    LinearDecayLR(optimizer, 2e-3, 2e-5, num_epochs=10)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(2e-3)
