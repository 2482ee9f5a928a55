"""ISLATrainer_MT's names, settings and refusal of multi-GPU training (the CLI run is test_mean_teacher_cli)."""

from __future__ import annotations

import importlib
import math

import pytest
import torch.distributed as dist

from isla_nnunet.errors import ISLAError
from isla_nnunet.training.mean_teacher import ISLATrainer_MT
from isla_nnunet.training.mean_teacher_variants import MT_TRAINERS
from isla_nnunet.training.variants import ISLATrainer_B


def test_isla_mt_is_isla_b_with_the_papers_settings():
    assert issubclass(ISLATrainer_MT, ISLATrainer_B)
    assert (ISLATrainer_MT.loss_name, ISLATrainer_MT.block, ISLATrainer_MT.deep_supervision,
            ISLATrainer_MT.attention) == ("UFL", "std", True, "seags")
    assert ISLATrainer_MT.consistency_weight_max == 5.0 and ISLATrainer_MT.rampup_epochs == 60
    assert (ISLATrainer_MT.ema_decay_during_rampup, ISLATrainer_MT.ema_decay_after_rampup) == (0.99, 0.999)
    assert ISLATrainer_MT.epochs == 300


def test_weight_variants_and_short_runs():
    for weight in (1, 5, 20, 50):
        cls = MT_TRAINERS[f"ISLATrainer_MT_w{weight}"]
        assert issubclass(cls, ISLATrainer_MT) and cls.consistency_weight_max == weight and cls.epochs == 300
        assert MT_TRAINERS[f"ISLATrainer_MT_w{weight}_5epochs"].epochs == 5
    assert MT_TRAINERS["ISLATrainer_MT_1epoch"].epochs == 1
    assert MT_TRAINERS["ISLATrainer_MT_2epochs"].consistency_weight_max == 5.0
    assert len(MT_TRAINERS) == 5 * 4


def test_nnunet_finds_the_classes_by_name_in_the_trainers_folder():
    module = importlib.import_module("isla_nnunet.nnunet_trainers.isla_mt_trainers")
    for name, cls in MT_TRAINERS.items():
        assert getattr(module, name) is cls and cls.__name__ == name


def test_schedule_methods_follow_the_epoch():
    trainer = object.__new__(MT_TRAINERS["ISLATrainer_MT_w20"])
    trainer.current_epoch = 30
    assert trainer.consistency_weight() == pytest.approx(20 * math.exp(-1.25))
    assert trainer.ema_decay() == 0.99
    trainer.current_epoch = 60
    assert (trainer.consistency_weight(), trainer.ema_decay()) == (20.0, 0.999)


def test_multi_gpu_is_refused_with_one_line(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    try:
        with pytest.raises(ISLAError, match="multi-GPU") as err:
            ISLATrainer_MT({}, "3d_fullres", 0, {})
        assert "\n" not in str(err.value)
    finally:
        dist.destroy_process_group()
