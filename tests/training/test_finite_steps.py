"""SkipsNonFiniteSteps: a step with an inf or NaN gradient changes nothing; finite steps are torch's own."""

from __future__ import annotations

import pytest
import torch

from isla_nnunet.training.finite_steps import FiniteAdadelta, SkipsNonFiniteSteps, gradients_are_finite


def _parameters():
    return [torch.nn.Parameter(torch.tensor([1.0, -2.0])), torch.nn.Parameter(torch.tensor([[0.5]]))]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_gradient_leaves_weights_and_state_untouched(bad):
    params = _parameters()
    optimizer = FiniteAdadelta(params)
    params[0].grad, params[1].grad = torch.tensor([0.1, 0.2]), torch.tensor([[0.3]])
    optimizer.step()
    before = [p.detach().clone() for p in params]
    state_before = {k: v.clone() for k, v in optimizer.state[params[0]].items() if torch.is_tensor(v)}
    params[0].grad, params[1].grad = torch.tensor([0.1, 0.2]), torch.tensor([[bad]])
    optimizer.step()
    assert all(torch.equal(b, p) for b, p in zip(before, params, strict=True))
    assert all(torch.equal(v, optimizer.state[params[0]][k]) for k, v in state_before.items())
    assert optimizer.skipped_steps == 1


def test_finite_steps_match_torch_adadelta_exactly():
    ours, reference = _parameters(), _parameters()
    finite, plain = FiniteAdadelta(ours, lr=1.0), torch.optim.Adadelta(reference, lr=1.0)
    for step in range(3):
        for params, optimizer in ((ours, finite), (reference, plain)):
            params[0].grad = torch.tensor([0.1, -0.3]) * (step + 1)
            params[1].grad = torch.tensor([[2.0]]) / (step + 1)
            optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(ours, reference, strict=True))
    assert finite.skipped_steps == 0


def test_a_closure_is_evaluated_and_its_loss_returned():
    weight = torch.nn.Parameter(torch.tensor([3.0]))
    optimizer = FiniteAdadelta([weight])

    def closure():
        optimizer.zero_grad()
        loss = (weight ** 2).sum()
        loss.backward()
        return loss

    assert optimizer.step(closure).item() == 9.0 and weight.item() < 3.0


def test_parameters_without_gradients_count_as_finite():
    params = _parameters()
    optimizer = FiniteAdadelta(params)
    assert gradients_are_finite(optimizer)
    params[0].grad = torch.tensor([float("nan"), 0.0])
    assert not gradients_are_finite(optimizer)


def test_the_mixin_combines_with_other_optimizers():
    class FiniteAdam(SkipsNonFiniteSteps, torch.optim.Adam):
        pass

    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = FiniteAdam([weight], lr=0.1)
    weight.grad = torch.tensor([float("nan")])
    optimizer.step()
    weight.grad = torch.tensor([1.0])
    optimizer.step()
    assert optimizer.skipped_steps == 1 and weight.item() == pytest.approx(-0.1)
