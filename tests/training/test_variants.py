import re

import pytest
from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name

from isla_nnunet.nnunet import environment as nnunet_env
from isla_nnunet.nnunet import preflight
from isla_nnunet.training import variants
from isla_nnunet.training.clerigues import CleriguesTrainer
from isla_nnunet.training.trainer import ISLATrainer

NAME = re.compile(r"^ISLATrainer_(?P<loss>UFL|GDLBCE)_(?P<block>Std|Res)_(?P<ds>DS|noDS)"
                  r"_(?P<att>NoAtt|SE|AGs|AGh|CBAM|SEAGs)(?:_(?P<epochs>\d+)epochs?)?$")


@pytest.fixture
def ext_trainer(monkeypatch):
    monkeypatch.setenv("nnUNet_extTrainer", str(nnunet_env.trainers_folder()))


def test_every_shipped_trainer_resolves_through_nnunets_own_lookup(ext_trainer, capsys):
    shipped = preflight.shipped_trainers()
    assert set(variants.TRAINERS) < set(shipped) and "ISLATrainer_MT" in shipped
    for name, cls in shipped.items():
        found = recursive_find_trainer_class_by_name(name)
        assert found.__name__ == name
        assert issubclass(found, (ISLATrainer, CleriguesTrainer))
        assert found.__dict__ == cls.__dict__ or found is cls
    capsys.readouterr()  # nnU-Net prints where it searched


def test_unknown_trainer_is_refused_by_name(ext_trainer, capsys):
    with pytest.raises(RuntimeError, match="ISLATrainer_UFL_Std_DS_Nope"):
        recursive_find_trainer_class_by_name("ISLATrainer_UFL_Std_DS_Nope")
    capsys.readouterr()


def test_grid_names_match_class_attributes():
    grid = [n for n in variants.TRAINERS if NAME.match(n)]
    assert len({n for n in grid if not NAME.match(n)["epochs"]}) == (
        len(variants.LOSSES) * len(variants.BLOCKS) * len(variants.DEEP_SUPERVISION) * len(variants.ATTENTION))
    for name in grid:
        parts = NAME.match(name)
        cls = variants.TRAINERS[name]
        assert cls.loss_name == parts["loss"]
        assert cls.block == variants.BLOCKS[parts["block"]]
        assert cls.deep_supervision == variants.DEEP_SUPERVISION[parts["ds"]]
        assert cls.attention == variants.ATTENTION[parts["att"]]
        assert cls.epochs == (int(parts["epochs"]) if parts["epochs"] else 300)


def test_short_runs_differ_from_their_full_run_only_in_epochs():
    full = variants.TRAINERS["ISLATrainer_GDLBCE_Res_noDS_NoAtt"]
    short = variants.TRAINERS["ISLATrainer_GDLBCE_Res_noDS_NoAtt_5epochs"]
    assert issubclass(short, full)
    assert set(vars(short)) - {"__doc__"} <= {"epochs", "__module__", "__qualname__"}
    assert variants.TRAINERS["ISLATrainer_UFL_Std_DS_NoAtt_1epoch"].epochs == 1


def test_names_cannot_clash_with_nnunets_and_classes_live_in_the_module():
    # nnU-Net looks trainers up by class name across its own package and nnUNet_extTrainer: its names
    # start with nnUNetTrainer, ours with ISLATrainer.
    assert all(name.startswith("ISLATrainer_") for name in variants.TRAINERS)
    for name, cls in variants.TRAINERS.items():
        assert getattr(variants, name) is cls and cls.__qualname__ == name
