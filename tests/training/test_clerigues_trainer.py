"""CleriguesTrainer's early stopping, on the trainer's own hooks with nnU-Net's end of epoch stubbed."""

from __future__ import annotations

import pytest
import torch
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

from isla_nnunet.training import clerigues
from isla_nnunet.training.clerigues import MONITOR, CleriguesTrainer, cpu_grad_scaler, epochs_since_best, skipped_steps


class History:
    def __init__(self):
        self.values = []

    def get_value(self, key, step):
        assert key == MONITOR
        return self.values if step is None else self.values[step]


@pytest.fixture
def trainer(tmp_path, monkeypatch):
    """A CleriguesTrainer shell: a one-weight network, a history, nnU-Net's on_epoch_end counting epochs."""
    monkeypatch.setattr(nnUNetTrainer, "on_epoch_end",
                        lambda self: setattr(self, "current_epoch", self.current_epoch + 1))
    shell = CleriguesTrainer.__new__(CleriguesTrainer)
    network = torch.nn.Linear(1, 1, bias=False)
    shell.network, shell.output_folder, shell.device = network, str(tmp_path), torch.device("cpu")
    shell.optimizer, shell.grad_scaler = torch.optim.Adadelta(network.parameters()), cpu_grad_scaler()
    shell.loss = lambda output, target: ((output - target) ** 2).mean()
    shell.logger, shell.current_epoch, shell.num_epochs, shell.patience = History(), 0, 100, 2
    shell.messages = []
    shell.print_to_log_file = lambda *args: shell.messages.append(" ".join(map(str, args)))
    return shell


def run_epochs(trainer, values):
    """Log each value as that epoch's monitored metric with the weight set to the epoch number."""
    for value in values:
        with torch.no_grad():
            trainer.network.weight.fill_(trainer.current_epoch)
        trainer.logger.values.append(value)
        trainer.on_epoch_end()


def test_stops_after_patience_epochs_without_a_new_minimum_and_keeps_the_best_weights(trainer):
    with pytest.raises(clerigues._EarlyStop):
        run_epochs(trainer, [0.5, 0.4, 0.45, 0.41, 0.3])
    assert trainer.current_epoch == 4                # epochs 0-3 ran; the 0.3 was never reached
    assert trainer.network.weight.item() == 1.0      # the weights of epoch 1, the minimum
    assert "early stopping after epoch 3" in trainer.messages[-1]


def test_a_new_minimum_resets_the_count(trainer):
    run_epochs(trainer, [0.5, 0.6, 0.4, 0.45, 0.3, 0.35])
    assert trainer.current_epoch == 6


def test_the_last_epoch_ends_normally_with_the_best_weights(trainer):
    trainer.num_epochs = 4
    run_epochs(trainer, [0.5, 0.4, 0.45, 0.5])        # patience reached at the last epoch: no early stop
    assert trainer.current_epoch == 4
    assert trainer.network.weight.item() == 1.0      # but nnU-Net's final checkpoint gets epoch 1's weights
    assert "last epoch after epoch 3: the weights of epoch 1 are kept" in trainer.messages[-1]


def test_a_last_epoch_that_is_the_best_keeps_its_own_weights(trainer):
    trainer.num_epochs = 3
    run_epochs(trainer, [0.5, 0.4, 0.3])
    assert trainer.network.weight.item() == 2.0 and "kept" not in trainer.messages[-1]


def test_a_nan_epoch_is_never_the_best_and_its_weights_are_not_kept(trainer):
    trainer.num_epochs = 3
    run_epochs(trainer, [0.5, float("nan"), float("nan")])
    assert trainer.network.weight.item() == 0.0      # epoch 0's weights, not a diverged epoch's
    assert "the weights of epoch 0 are kept" in trainer.messages[-1]


def _step(trainer, value):
    """nnU-Net's own training step on one sample whose input is ``value``."""
    return nnUNetTrainer.train_step(trainer, {"data": torch.full((1, 1), value), "target": torch.zeros(1, 1)})


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nnunet_training_step_skips_a_non_finite_gradient_and_the_log_counts_it(trainer, bad):
    with torch.no_grad():
        trainer.network.weight.fill_(1.0)
    _step(trainer, bad)
    assert trainer.network.weight.item() == 1.0 and not trainer.optimizer.state   # weights and Adadelta untouched
    assert skipped_steps(trainer.grad_scaler) == 1
    _step(trainer, 2.0)
    _step(trainer, bad)
    assert trainer.network.weight.item() < 1.0 and skipped_steps(trainer.grad_scaler) == 2
    trainer.logger.values.append(0.5)
    trainer.on_epoch_end()
    assert "2 training steps skipped so far: their gradients held inf or NaN" in trainer.messages


def test_finite_steps_through_the_scaler_equal_plain_adadelta(trainer):
    reference = torch.nn.Linear(1, 1, bias=False)
    reference.load_state_dict(trainer.network.state_dict())
    optimizer = torch.optim.Adadelta(reference.parameters())
    for value in (2.0, -1.0, 0.5):
        _step(trainer, value)
        optimizer.zero_grad()
        ((reference(torch.full((1, 1), value))) ** 2).mean().backward()
        torch.nn.utils.clip_grad_norm_(reference.parameters(), 12)
        optimizer.step()
    assert torch.equal(trainer.network.weight, reference.weight) and skipped_steps(trainer.grad_scaler) == 0


NAN = float("nan")


@pytest.mark.parametrize("history, expected", [([1.0], 0), ([1.0, 2.0, 3.0], 2), ([3.0, 2.0, 1.0], 0),
                                               ([1.0, 1.0], 1),   # a tie is no improvement
                                               ([1.0, NAN], 1), ([NAN, 2.0], 0), ([2.0, NAN, 1.0], 0)])
def test_epochs_since_best(history, expected):
    assert epochs_since_best(history) == expected
