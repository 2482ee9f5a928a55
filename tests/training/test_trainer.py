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

    def make(name):
        # nnU-Net's run_training adds this key before building a trainer.
        return TRAINERS[name]({**plans, "continue_training": False}, "3d_fullres", 0, dataset_json,
                              device=torch.device("cpu"))

    return make


def test_epoch_is_one_pass_over_the_training_cases(make_trainer):
    trainer = make_trainer("ISLATrainer_UFL_Std_DS_NoAtt")
    trainer.initialize()
    train, val = trainer.get_tr_and_val_datasets()
    assert trainer.batch_size == 2
    assert trainer.num_iterations_per_epoch == math.ceil(len(train.identifiers) / 2)
    assert trainer.num_val_iterations_per_epoch == math.ceil(len(val.identifiers) / 2)
    assert trainer.num_epochs == 300 and trainer.oversample_foreground_percent == 0.0
    # Training cases come back on the whole reference grid, not nnU-Net's brain crop.
    data, seg, _, _ = train.load_case(train.identifiers[0])
    assert data.shape[1:] == (32, 224, 192) and seg.min() == -1


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
