"""The 48-model grid: names, the ISLA-B alias, nnU-Net's lookup, and every network built the trainer's way."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from isla_nnunet import reference
from isla_nnunet.networks.attention import CBAM, AttentionGate, SqueezeExcitation
from isla_nnunet.networks.presets import DEFAULT_FEATURES, isla_arch_kwargs, with_attention
from isla_nnunet.training.variants import ALIASES, BASE_TRAINERS, TRAINERS

from .plans import environ_with_trainers, managers

ATTENTION_NAMES = ("NoAtt", "SE", "AGs", "AGh", "CBAM", "SEAGs")
SHORT = ("_1epoch", "_2epochs", "_5epochs")


def test_grid_is_loss_x_block_x_ds_x_attention_with_short_run_siblings():
    expected = [f"ISLATrainer_{loss}_{block}_{ds}_{att}" for loss, block, ds, att in
                itertools.product(("UFL", "GDLBCE"), ("Std", "Res"), ("DS", "noDS"), ATTENTION_NAMES)]
    assert len(BASE_TRAINERS) == 48 and sorted(BASE_TRAINERS) == sorted(expected)
    cpu_budget = {f"{m}_CPU_{e}epochs" for m in ("ISLATrainer_B", "ISLATrainer_UFL_Res_DS_SEAGs")
                  for e in (10, 15, 20, 50)}
    cpu_budget |= {f"ISLATrainer_B_CPUFineTune_{e}epochs" for e in (5, 10)}
    assert set(TRAINERS) == {n + s for n in [*expected, "ISLATrainer_B"] for s in ("", *SHORT)} | cpu_budget
    for name in expected:
        loss, block, ds, att = name.split("_")[1:]
        cls = TRAINERS[name]
        assert (cls.loss_name, cls.block, cls.deep_supervision) == (loss, block.lower(), ds == "DS")
        assert cls.attention == {"NoAtt": "none"}.get(att, att.lower())
        assert [TRAINERS[name + s].epochs for s in SHORT] == [1, 2, 5]
        assert TRAINERS[name + "_1epoch"].attention == cls.attention


def test_names_stored_in_existing_checkpoints_keep_their_meaning():
    cls = TRAINERS["ISLATrainer_UFL_Std_DS_NoAtt_1epoch"]
    assert (cls.loss_name, cls.block, cls.deep_supervision, cls.attention, cls.epochs) == \
        ("UFL", "std", True, "none", 1)


def test_isla_b_is_ufl_std_ds_seags():
    assert ALIASES == {"ISLATrainer_B": "ISLATrainer_UFL_Std_DS_SEAGs"}
    for name in ("ISLATrainer_B", "ISLATrainer_B_1epoch"):
        cls = TRAINERS[name]
        assert (cls.loss_name, cls.block, cls.deep_supervision) == ("UFL", "std", True)
        assert cls.attention == "seags"
        assert issubclass(cls, TRAINERS["ISLATrainer_UFL_Std_DS_SEAGs"])
    assert TRAINERS["ISLATrainer_B"].epochs == 300 and TRAINERS["ISLATrainer_B_1epoch"].epochs == 1


@pytest.mark.parametrize("name", ["ISLATrainer_B_1epoch", "ISLATrainer_GDLBCE_Res_noDS_AGh_5epochs"])
def test_nnunet_finds_the_trainers_through_ext_trainer(name, monkeypatch):
    from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name

    monkeypatch.setenv("nnUNet_extTrainer", environ_with_trainers()["nnUNet_extTrainer"])
    cls = recursive_find_trainer_class_by_name(name)
    assert cls.__name__ == name and cls.attention == TRAINERS[name].attention


def test_with_attention_fills_exactly_the_slots_of_each_variant():
    base = isla_arch_kwargs()["arch_kwargs"]
    slots = ("skip_attention_op", "gate_op")
    ops = {att: {k: with_attention(base, att)[k] for k in slots}
           for att in ("none", "se", "ags", "agh", "cbam", "seags")}
    prefix = "isla_nnunet.networks.attention."
    assert ops["none"] == {"skip_attention_op": None, "gate_op": None}
    assert ops["se"]["skip_attention_op"] == prefix + "squeeze_excitation.SqueezeExcitation"
    assert ops["cbam"]["skip_attention_op"] == prefix + "cbam.CBAM"
    assert ops["ags"]["gate_op"] == ops["agh"]["gate_op"] == prefix + "attention_gate.AttentionGate"
    assert ops["seags"] == {**ops["se"], "gate_op": ops["ags"]["gate_op"]}
    assert with_attention(base, "agh")["gate_kwargs"] == {"per_channel": True}
    assert with_attention(base, "se")["skip_attention_kwargs"] == {"reduction": 8}
    # The variant decides: a plans file that carried attention loses it under "none".
    assert with_attention(with_attention(base, "seags"), "none")["gate_op"] is None
    assert "gate_op" not in base
    with pytest.raises(ValueError, match="attention must be one of"):
        with_attention(base, "transformer")


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def attention_parameters(attention: str, features=DEFAULT_FEATURES) -> int:
    """Hand count of the attention parameters the ISLA layout gets (skips: all levels but the bottleneck)."""
    def se(c):
        h = max(1, c // 8)
        return c * h + h + h * c + c

    def cbam(c):
        h = max(1, c // 16)
        return c * h + h + h * c + c + (2 * 3 * 7 * 7 + 1)

    def gate(c, g, per_channel):
        i = max(1, c // 2)
        out = c if per_channel else 1
        return c * i * (1 * 2 * 2) + (g * i + i) + (i * out + out)

    skips = list(zip(features[:-1], features[1:], strict=True))
    table = {"none": 0, "se": sum(se(c) for c, _ in skips), "cbam": sum(cbam(c) for c, _ in skips),
             "ags": sum(gate(c, g, False) for c, g in skips), "agh": sum(gate(c, g, True) for c, g in skips)}
    table["seags"] = table["se"] + table["ags"]
    return table[attention]


@pytest.mark.parametrize("block", ["Std", "Res"])
def test_trainer_networks_carry_the_hand_counted_attention(block):
    plans_manager, configuration = managers()
    built = {}
    for att in ATTENTION_NAMES:
        cls = TRAINERS[f"ISLATrainer_UFL_{block}_DS_{att}"]
        built[cls.attention] = cls.build_network_architecture(plans_manager, configuration, 2, 2, True)
    for attention, net in built.items():
        assert n_params(net) - n_params(built["none"]) == attention_parameters(attention), attention
    seags = built["seags"]
    assert [type(m) for m in seags.encoder.skip_attention] == [SqueezeExcitation] * 5
    assert [type(g) for g in seags.decoder.gates] == [AttentionGate] * 5
    assert not any(g.per_channel for g in seags.decoder.gates)
    assert all(g.per_channel for g in built["agh"].decoder.gates)
    assert [type(m) for m in built["cbam"].encoder.skip_attention] == [CBAM] * 5
    assert built["none"].decoder.gates is None
    assert all(isinstance(m, nn.Identity) for m in built["none"].encoder.skip_attention)


@pytest.mark.slow
def test_all_48_trainers_build_and_run_the_full_reference_grid_on_cpu():
    # About 2 s per network on 2 idle cores (eval, no gradients, batch 1).
    torch.set_num_threads(2)
    plans_manager, configuration = managers()
    torch.manual_seed(0)
    x = torch.randn(1, 2, *reference.SHAPE_ZYX)
    for name in BASE_TRAINERS:
        cls = TRAINERS[name]
        net = cls.build_network_architecture(plans_manager, configuration, 2, 2, cls.deep_supervision).eval()
        with torch.no_grad():
            out = net(x)
        outputs = out if cls.deep_supervision else [out]
        assert len(outputs) == (6 if cls.deep_supervision else 1), name
        for o in outputs:
            assert o.shape == (1, 2, *reference.SHAPE_ZYX), name
            assert torch.isfinite(o).all() and (o[:, 0] == 0).all(), name
        assert outputs[0][:, 1].std() > 0, name
