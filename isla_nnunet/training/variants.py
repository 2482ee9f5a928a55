"""The one definition of the ISLA trainer grid: loss x block x deep supervision x attention.

Names are ``ISLATrainer_<Loss>_<Block>_<DS>_<Attention>``, e.g. ``ISLATrainer_UFL_Std_DS_NoAtt``.
Each has short-run siblings ``<name>_<N>epochs`` for smoke tests and demos. Names are permanent:
nnU-Net stores them in checkpoints and result folders, and finds the class again by name.

Example:
    >>> trainer_name("UFL", "Std", "DS", "NoAtt")
    'ISLATrainer_UFL_Std_DS_NoAtt'
    >>> TRAINERS["ISLATrainer_GDLBCE_Res_noDS_NoAtt"].block
    'res'
"""

from __future__ import annotations

import itertools

from isla_nnunet.training.trainer import ISLATrainer

LOSSES = ("UFL", "GDLBCE")
BLOCKS = {"Std": "std", "Res": "res"}
DEEP_SUPERVISION = {"DS": True, "noDS": False}
ATTENTION = {"NoAtt": "none"}
SHORT_RUN_EPOCHS = (1, 2, 5)


def trainer_name(loss: str, block: str, deep_supervision: str, attention: str) -> str:
    return f"ISLATrainer_{loss}_{block}_{deep_supervision}_{attention}"


def _make(name: str, base: type, **attributes) -> type:
    cls = type(name, (base,), {"__module__": __name__, "__qualname__": name, **attributes})
    cls.__doc__ = f"ISLA trainer {name}: " + ", ".join(f"{k}={v!r}" for k, v in attributes.items())
    return cls


def _build() -> dict[str, type]:
    trainers = {}
    for loss, block, ds, attention in itertools.product(LOSSES, BLOCKS, DEEP_SUPERVISION, ATTENTION):
        name = trainer_name(loss, block, ds, attention)
        cls = _make(name, ISLATrainer, loss_name=loss, block=BLOCKS[block],
                    deep_supervision=DEEP_SUPERVISION[ds], attention=ATTENTION[attention])
        trainers[name] = cls
        for epochs in SHORT_RUN_EPOCHS:
            short = f"{name}_{epochs}epoch{'s' if epochs > 1 else ''}"
            trainers[short] = _make(short, cls, epochs=epochs)
    return trainers


TRAINERS: dict[str, type] = _build()
# Classes live at module level so that pickling and nnU-Net's lookup by attribute both find them.
globals().update(TRAINERS)
__all__ = ["TRAINERS", "trainer_name", *TRAINERS]
