"""The ISLA recipe inside nnU-Net's trainer, on the tiny planned workspace (no training)."""

import json
import math

import pytest
import torch

from isla_nnunet import losses
from isla_nnunet.training.variants import TRAINERS

pytestmark = pytest.mark.slow  # needs the planned workspace (about 40 s, shared with other slow tests)


@pytest.fixture
def make_trainer(tiny_workspace, monkeypatch):
    for name in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results"):
        monkeypatch.setenv(name, tiny_workspace.env[name])
    plans = json.loads((tiny_workspace.preprocessed / "ISLAPlans.json").read_text())
    dataset_json = json.loads((tiny_workspace.preprocessed / "dataset.json").read_text())

    def make(trainer):
        # nnU-Net's run_training adds this key before building a trainer.
        trainer_class = TRAINERS[trainer] if isinstance(trainer, str) else trainer
        return trainer_class({**plans, "continue_training": False}, "3d_fullres", 0, dataset_json,
                              device=torch.device("cpu"))

    return make


def test_epoch_is_one_pass_over_the_training_cases(make_trainer, monkeypatch):
    monkeypatch.setenv("nnUNet_n_proc_DA", "0")
    trainer = make_trainer("ISLATrainer_UFL_Std_DS_NoAtt")
    trainer.initialize()
    train, val = trainer.get_tr_and_val_datasets()
    assert trainer.batch_size == 2
    assert trainer.num_iterations_per_epoch == math.ceil(len(train.identifiers) / 2)
    assert trainer.num_val_iterations_per_epoch == math.ceil(len(val.identifiers) / 2)
    assert trainer.num_epochs == 300 and trainer.oversample_foreground_percent == 0.0
    # Training cases come back on the whole reference grid, not nnU-Net's brain crop ...
    data, seg, _, _ = train.load_case(train.identifiers[0])
    assert data.shape[1:] == (32, 224, 192) and seg.min() == -1
    # ... while nnU-Net's final validation keeps its own cropped cases, as nnUNetv2_predict sees them,
    # however often the datasets are made.
    trainer.get_tr_and_val_datasets()
    cropped = trainer.dataset_class(trainer.preprocessed_dataset_folder, val.identifiers)
    assert cropped.load_case(val.identifiers[0])[0].shape[1:] != (32, 224, 192)
    assert not trainer.dataset_class.__name__.startswith("FullFrame")
    # One epoch of batches draws every training case once (the last batch may wrap into the next pass).
    loader, _ = trainer.get_dataloaders()
    keys = [k for _ in range(trainer.num_iterations_per_epoch) for k in next(loader)["keys"]]
    counts = {k: keys.count(k) for k in set(keys)}
    assert set(counts) == set(train.identifiers) and max(counts.values()) <= 2
    assert sum(counts.values()) == 2 * trainer.num_iterations_per_epoch


def test_network_built_with_the_cpu_setting(make_trainer, monkeypatch):
    monkeypatch.setenv("ISLA_CPU_PRECISION", "bf16")
    trainer = make_trainer("ISLATrainer_UFL_Std_DS_NoAtt")
    trainer.initialize()
    assert trainer.network.cpu_execution.autocast_dtype == torch.bfloat16
    monkeypatch.setenv("ISLA_CPU_PRECISION", "fp32")
    other = make_trainer("ISLATrainer_UFL_Std_DS_NoAtt")
    other.initialize()
    assert other.network.cpu_execution.autocast_dtype is None


@pytest.mark.parametrize(("name", "residual"), [
    ("ISLATrainer_B_CPU_10epochs", False), ("ISLATrainer_UFL_Res_DS_SEAGs_CPU_10epochs", True)])
def test_subclass_learning_rates_are_obeyed(make_trainer, name, residual):
    # The CPU-budget trainers set nnU-Net's self.initial_lr (and self.final_lr) in __init__.
    trainer = make_trainer(name)
    trainer.initialize()
    assert trainer.num_epochs == 10 and trainer.attention == "seags" and trainer.save_every == 1
    assert ("ResBlock" in {type(m).__name__ for m in trainer.network.modules()}) == residual
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(2e-3)
    trainer.lr_scheduler.step(9)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(2e-5)


def test_fine_tuning_runs_at_a_tenth_of_the_cpu_budget_rate_and_saves_every_pass(make_trainer):
    trainer = make_trainer("ISLATrainer_B_CPUFineTune_5epochs")
    trainer.initialize()
    assert trainer.num_epochs == 5 and trainer.save_every == 1 and trainer.attention == "seags"
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(2e-4)
    trainer.lr_scheduler.step(4)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(2e-6)


@pytest.mark.parametrize(("name", "loss_type", "supervised"), [
    ("ISLATrainer_UFL_Std_DS_NoAtt", losses.AsymmetricUnifiedFocalLoss, True),
    ("ISLATrainer_GDLBCE_Res_noDS_NoAtt", losses.GeneralizedDiceBCELoss, False),
])
def test_loss_optimizer_and_schedule(make_trainer, name, loss_type, supervised):
    trainer = make_trainer(name)
    trainer.initialize()
    loss = trainer.loss
    assert isinstance(loss, losses.ISLADeepSupervisionLoss) == supervised
    inner = loss.loss if supervised else loss
    assert isinstance(inner, losses.BinaryFromTwoClassLogits) and isinstance(inner.loss, loss_type)
    assert isinstance(trainer.optimizer, torch.optim.Adam)
    trainer.lr_scheduler.step(299)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(5e-6)
    assert trainer.network.decoder.deep_supervision == supervised
    block_type = type(trainer.network.encoder.stages[1]).__name__
    assert block_type == ("StdDownBlock" if "_Std_" in name else "ResBlock")


def test_mean_teacher_runs_the_teacher_in_the_cpu_setting(make_trainer, monkeypatch):
    monkeypatch.setenv("ISLA_CPU_PRECISION", "bf16")
    from isla_nnunet.training.mean_teacher import ISLATrainer_MT

    trainer = make_trainer(ISLATrainer_MT)
    trainer.initialize()
    dtypes = []
    first_conv = next(m for m in trainer.teacher.modules() if isinstance(m, torch.nn.Conv3d))
    first_conv.register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
    with torch.no_grad():
        logits = trainer.teacher(torch.zeros(1, trainer.num_input_channels, 32, 64, 64))
    assert trainer.teacher.cpu_execution.autocast_dtype == torch.bfloat16
    # Convolutions in bf16, logits back in float32 for the consistency loss.
    assert dtypes == [torch.bfloat16] and logits[0].dtype == torch.float32


def test_mean_teacher_at_consistency_weight_zero_takes_nnunets_own_training_step(make_trainer, monkeypatch):
    # ISLATrainer_MT.train_step re-types nnU-Net 2.8.1's train_step (nnUNetTrainer.train_step) around the
    # teacher; with w = 0 it must be that step on the labeled half: same loss, same gradients.
    import itertools

    from isla_nnunet.training.mean_teacher import ISLATrainer_MT

    monkeypatch.setenv("nnUNet_n_proc_DA", "0")
    monkeypatch.setenv("ISLA_CPU_PRECISION", "fp32")
    student, plain = make_trainer(ISLATrainer_MT), make_trainer("ISLATrainer_B")
    student.initialize()
    plain.initialize()
    plain.network.load_state_dict(student.network.state_dict())
    student.teacher.load_state_dict(student.network.state_dict())
    student.consistency_weight = lambda: 0.0
    train, _ = plain.get_dataloaders()
    batch = next(train)
    # float64 on a 32 x 64 x 64 window of the batch, so that summing voxels in another order (a batch of
    # four convolves otherwise than a batch of two) cannot hide a real difference
    window = (Ellipsis, slice(80, 144), slice(64, 128))
    batch["data"] = batch["data"][window].double()
    batch["target"] = ([t[window] for t in batch["target"]] if isinstance(batch["target"], list)
                       else batch["target"][window])
    torch.manual_seed(0)
    unlabeled = {"data": torch.randn(batch["data"].shape[0], 2 * batch["data"].shape[1], *batch["data"].shape[2:],
                                     dtype=torch.float64)}
    student.dataloader_unlabeled = itertools.repeat(unlabeled)
    for network in (student.network, student.teacher, plain.network):
        network.double().eval()   # dropout off, so both draw nothing at random; GroupNorm is per sample
    mt = student.train_step(batch)
    reference = plain.train_step(batch)
    assert float(mt["loss"]) == pytest.approx(float(reference["loss"]), rel=1e-5)
    assert float(mt["consistency_loss"]) > 0   # the teacher ran and disagreed; the weight removed it
    whole = torch.linalg.vector_norm(torch.cat([q.grad.flatten() for q in plain.network.parameters()]))
    for (name, p), q in zip(student.network.named_parameters(), plain.network.parameters(), strict=True):
        assert torch.linalg.vector_norm(p.grad - q.grad) <= 1e-6 * whole, name
    # and the teacher moved towards the student by nnU-Net-independent EMA, one update
    assert student.ema_updates == 1
