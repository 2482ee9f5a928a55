"""The one definition of the Mean Teacher trainer names.

``ISLATrainer_MT`` is ISLA-MT (consistency weight w_max = 5, Roca et al. §4.1.2). The weights compared
in the paper's validation (Appendix C: 1, 5, 20, 50) are ``ISLATrainer_MT_w1``, ``_w5`` (the same
recipe as ``ISLATrainer_MT`` under its own name), ``_w20`` and ``_w50``. Every one has short-run
siblings ``<name>_1epoch``, ``<name>_2epochs`` and ``<name>_5epochs`` for smoke tests; they keep the
60-epoch ramp-up, so their consistency weight stays near w_max * exp(-5). Other settings
(``consistency_weight_max``, ``rampup_epochs``, ``ema_decay_during_rampup``, ``ema_decay_after_rampup``,
``epochs``) are class attributes: subclass :class:`ISLATrainer_MT` in a module of a folder listed in
``nnUNet_extTrainer`` to change them. Names are permanent (nnU-Net stores them in checkpoints).

Example:
    >>> short = MT_TRAINERS["ISLATrainer_MT_w20_2epochs"]
    >>> short.consistency_weight_max, short.epochs
    (20.0, 2)
    >>> sorted(name for name in MT_TRAINERS if name.endswith("_1epoch"))[:2]
    ['ISLATrainer_MT_1epoch', 'ISLATrainer_MT_w1_1epoch']
"""

from __future__ import annotations

from isla_nnunet.training.mean_teacher import ISLATrainer_MT
from isla_nnunet.training.variants import SHORT_RUN_EPOCHS

CONSISTENCY_WEIGHTS = (1, 5, 20, 50)


def _make(name: str, base: type, doc: str, **attributes) -> type:
    cls = type(name, (base,), {"__module__": __name__, "__qualname__": name, **attributes})
    cls.__doc__ = doc
    return cls


def _with_short_runs(trainers: dict[str, type], cls: type) -> None:
    trainers[cls.__name__] = cls
    for epochs in SHORT_RUN_EPOCHS:
        short = f"{cls.__name__}_{epochs}epoch{'s' if epochs > 1 else ''}"
        doc = f"{cls.__name__} for {epochs} epoch(s) (smoke tests)."
        trainers[short] = _make(short, cls, doc, epochs=epochs)


def _build() -> dict[str, type]:
    trainers: dict[str, type] = {}
    _with_short_runs(trainers, ISLATrainer_MT)
    for weight in CONSISTENCY_WEIGHTS:
        name = f"ISLATrainer_MT_w{weight}"
        doc = f"ISLA-MT with consistency weight w_max = {weight}."
        _with_short_runs(trainers, _make(name, ISLATrainer_MT, doc, consistency_weight_max=float(weight)))
    return trainers


MT_TRAINERS = _build()
# Module-level names for pickling and for nnU-Net's lookup by attribute.
globals().update(MT_TRAINERS)
__all__ = ["CONSISTENCY_WEIGHTS", "MT_TRAINERS", *MT_TRAINERS]
