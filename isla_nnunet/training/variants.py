"""The one definition of the ISLA trainer grid: loss x block x deep supervision x attention.

Names are ``ISLATrainer_<Loss>_<Block>_<DS>_<Attention>``, e.g. ``ISLATrainer_UFL_Std_DS_NoAtt``:
loss {UFL, GDLBCE} x block {Std, Res} x deep supervision {DS, noDS} x attention {NoAtt, SE, AGs, AGh,
CBAM, SEAGs}, the 48 base models of Roca et al. (§3.2.3). ISLA-B, the best base model (UFL, StdUNet,
DS, SE-AGs; §4.1.1), is also ``ISLATrainer_B``. Each has short-run siblings ``<name>_1epoch``,
``<name>_2epochs`` and ``<name>_5epochs`` for smoke tests and demos; ISLA-B also has ``ISLATrainer_B_10epochs``,
``_20epochs`` and ``_50epochs`` for CPU budgets, where the linear decay spans a short run of long passes
(``scripts/train_isla_b.py``). Names are permanent: nnU-Net stores
them in checkpoints and result folders, and finds the class again by name.

Example:
    >>> trainer_name("UFL", "Std", "DS", "NoAtt")
    'ISLATrainer_UFL_Std_DS_NoAtt'
    >>> TRAINERS["ISLATrainer_GDLBCE_Res_noDS_NoAtt"].block
    'res'
    >>> TRAINERS["ISLATrainer_B_1epoch"].attention, len(BASE_TRAINERS)
    ('seags', 48)
"""

from __future__ import annotations

import itertools

from isla_nnunet.training.trainer import ISLATrainer

LOSSES = ("UFL", "GDLBCE")
BLOCKS = {"Std": "std", "Res": "res"}
DEEP_SUPERVISION = {"DS": True, "noDS": False}
ATTENTION = {"NoAtt": "none", "SE": "se", "AGs": "ags", "AGh": "agh", "CBAM": "cbam", "SEAGs": "seags"}
SHORT_RUN_EPOCHS = (1, 2, 5)
BUDGET_RUN_EPOCHS = (10, 20, 50)
# Permanent short names for published models: alias -> grid name.
ALIASES = {"ISLATrainer_B": "ISLATrainer_UFL_Std_DS_SEAGs"}


def trainer_name(loss: str, block: str, deep_supervision: str, attention: str) -> str:
    return f"ISLATrainer_{loss}_{block}_{deep_supervision}_{attention}"


def _make(name: str, base: type, **attributes) -> type:
    cls = type(name, (base,), {"__module__": __name__, "__qualname__": name, **attributes})
    cls.__doc__ = f"ISLA trainer {name}: " + ", ".join(f"{k}={v!r}" for k, v in attributes.items())
    return cls


def _add_with_short_runs(trainers: dict[str, type], cls: type, epoch_counts=SHORT_RUN_EPOCHS) -> None:
    trainers[cls.__name__] = cls
    for epochs in epoch_counts:
        short = f"{cls.__name__}_{epochs}epoch{'s' if epochs > 1 else ''}"
        trainers[short] = _make(short, cls, epochs=epochs)


def _build() -> tuple[dict[str, type], tuple[str, ...]]:
    trainers: dict[str, type] = {}
    base = []
    for loss, block, ds, attention in itertools.product(LOSSES, BLOCKS, DEEP_SUPERVISION, ATTENTION):
        name = trainer_name(loss, block, ds, attention)
        base.append(name)
        _add_with_short_runs(trainers, _make(name, ISLATrainer, loss_name=loss, block=BLOCKS[block],
                                             deep_supervision=DEEP_SUPERVISION[ds],
                                             attention=ATTENTION[attention]))
    for alias, target in ALIASES.items():
        # A subclass without changes: same recipe, its own permanent name.
        cls = _make(alias, trainers[target])
        cls.__doc__ = f"ISLA trainer {alias}: the grid's {target}"
        _add_with_short_runs(trainers, cls, SHORT_RUN_EPOCHS + BUDGET_RUN_EPOCHS)
    return trainers, tuple(base)


TRAINERS, BASE_TRAINERS = _build()
# Classes live at module level so that pickling and nnU-Net's lookup by attribute both find them.
globals().update(TRAINERS)
__all__ = ["ALIASES", "BASE_TRAINERS", "TRAINERS", "trainer_name", *TRAINERS]
