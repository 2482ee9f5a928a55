"""EMA teacher: the update formula on a tiny model, the decay schedule, the teacher's eval mode."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from isla_nnunet.training.ema import ema_decay, ema_update, make_teacher


def _tiny(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv3d(1, 2, 1), nn.GroupNorm(1, 2), nn.Dropout(0.5), nn.Conv3d(2, 2, 1))


def test_update_equals_formula_parameter_by_parameter():
    student = _tiny(0)
    teacher = make_teacher(_tiny(1))
    before = {k: v.clone() for k, v in teacher.named_parameters()}
    ema_update(teacher, student, 0.9)
    for name, value in teacher.named_parameters():
        expected = 0.9 * before[name] + 0.1 * dict(student.named_parameters())[name]
        torch.testing.assert_close(value, expected, rtol=0, atol=1e-7)


def test_update_on_known_scalars():
    student, teacher = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        student.weight.fill_(10.0)
        teacher.weight.fill_(0.0)
    for _ in range(2):
        ema_update(teacher, student, 0.99)
    # 0.99 * (0.01 * 10) + 0.01 * 10 = 0.199
    assert teacher.weight.item() == pytest.approx(0.199, abs=1e-6)


def test_decay_one_keeps_teacher_and_zero_copies_student():
    student, teacher = _tiny(0), make_teacher(_tiny(1))
    kept = [p.clone() for p in teacher.parameters()]
    ema_update(teacher, student, 1.0)
    assert all(torch.equal(a, b) for a, b in zip(kept, teacher.parameters(), strict=True))
    ema_update(teacher, student, 0.0)
    assert all(torch.equal(a, b) for a, b in zip(student.parameters(), teacher.parameters(), strict=True))


def test_buffers_are_copied_not_averaged():
    student, teacher = nn.BatchNorm1d(2), nn.BatchNorm1d(2)
    student.running_mean.fill_(4.0)
    ema_update(teacher, student, 0.5)
    assert torch.equal(teacher.running_mean, torch.full((2,), 4.0))


def test_schedule_switches_after_rampup():
    assert [ema_decay(e, 60) for e in (0, 30, 59, 60, 299)] == [0.99, 0.99, 0.99, 0.999, 0.999]


def test_teacher_is_eval_without_gradients_and_deterministic():
    student = _tiny(0).train()
    teacher = make_teacher(student)
    assert not teacher.training and not any(m.training for m in teacher.modules())
    assert not any(p.requires_grad for p in teacher.parameters())
    assert all(p.requires_grad for p in student.parameters())
    x = torch.randn(2, 1, 3, 3, 3)
    # Dropout p=0.5 is active in the student, off in the teacher.
    torch.testing.assert_close(teacher(x), teacher(x))
    assert not torch.equal(student(x), student(x))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="decay"):
        ema_update(_tiny(0), _tiny(1), 1.5)
    with pytest.raises(ValueError, match="different parameters"):
        ema_update(nn.Linear(1, 1), nn.Conv1d(1, 1, 1, bias=False), 0.9)


def test_the_teacher_runs_under_the_students_cpu_setting():
    # The teacher's forward on the unlabeled images is half of a Mean Teacher step's network work: it
    # must get the same bf16 autocast and channels-last memory as the student.
    from isla_nnunet.networks.cpu_execution import CPUExecution
    from isla_nnunet.networks.presets import isla_arch_kwargs
    from isla_nnunet.networks.unet import ISLAUNet

    kwargs = isla_arch_kwargs((8, 8, 16))["arch_kwargs"]
    kwargs.update(conv_op=nn.Conv3d, norm_op=nn.GroupNorm, nonlin=nn.LeakyReLU, dropout_op=nn.Dropout)
    student = CPUExecution(torch.bfloat16, channels_last=True).apply(ISLAUNet(2, 2, **kwargs))
    teacher = make_teacher(student)
    assert teacher.cpu_execution == student.cpu_execution
    assert all(p.is_contiguous(memory_format=torch.channels_last_3d) for p in teacher.parameters() if p.dim() == 5)
