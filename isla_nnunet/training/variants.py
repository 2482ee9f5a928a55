"""The one definition of the ISLA trainer grid: loss x block x deep supervision x attention.

Names are ``ISLATrainer_<Loss>_<Block>_<DS>_<Attention>``, e.g. ``ISLATrainer_UFL_Std_DS_NoAtt``:
loss {UFL, GDLBCE} x block {Std, Res} x deep supervision {DS, noDS} x attention {NoAtt, SE, AGs, AGh,
CBAM, SEAGs}, the 48 base models of Roca et al. (§3.2.3). ISLA-B, the best base model (UFL, StdUNet,
DS, SE-AGs; §4.1.1), is also ``ISLATrainer_B``. Each has short-run siblings ``<name>_1epoch``,
``<name>_2epochs`` and ``<name>_5epochs`` for smoke tests and demos. ISLA-B also has CPU-budget siblings
``ISLATrainer_B_CPU_10epochs``, ``_15epochs``, ``_20epochs`` and ``_50epochs``: ISLA-B's recipe over a run of about a
thousand batch-2 steps instead of ISLA's ~9,000 of batch 8, with the linear decay spanning the run and
starting 4x higher (2e-3 -> 2e-5, see :class:`CPUBudget` and ``scripts/train_isla_b.py``); the same
budget exists for ISLA-B's recipe with residual blocks (``ISLATrainer_UFL_Res_DS_SEAGs_CPU_<E>epochs``,
a second ISLA variant for ensembles and votes), and
fine-tuning siblings ``ISLATrainer_B_CPUFineTune_5epochs`` and ``_10epochs`` that continue a trained
ISLA-B (``-pretrained_weights``) at a tenth of that rate (2e-4 -> 2e-6, :class:`CPUFineTune`).
Names are permanent: nnU-Net stores
them in checkpoints and result folders, and finds the class again by name.

Example:
    >>> trainer_name("UFL", "Std", "DS", "NoAtt")
    'ISLATrainer_UFL_Std_DS_NoAtt'
    >>> TRAINERS["ISLATrainer_GDLBCE_Res_noDS_NoAtt"].block
    'res'
    >>> TRAINERS["ISLATrainer_B_1epoch"].attention, len(BASE_TRAINERS)
    ('seags', 48)
    >>> TRAINERS["ISLATrainer_UFL_Res_DS_SEAGs_CPU_10epochs"].block
    'res'
"""

from __future__ import annotations

import itertools

import torch

from isla_nnunet.training.trainer import _DEFAULT_DEVICE, ISLATrainer

LOSSES = ("UFL", "GDLBCE")
BLOCKS = {"Std": "std", "Res": "res"}
DEEP_SUPERVISION = {"DS": True, "noDS": False}
ATTENTION = {"NoAtt": "none", "SE": "se", "AGs": "ags", "AGh": "agh", "CBAM": "cbam", "SEAGs": "seags"}
SHORT_RUN_EPOCHS = (1, 2, 5)
CPU_BUDGET_EPOCHS = (10, 15, 20, 50)
CPU_FINETUNE_EPOCHS = (5, 10)
# Trainers with CPU-budget siblings <name>_CPU_<E>epochs: ISLA-B and its residual-block twin.
CPU_BUDGET_MODELS = ("ISLATrainer_B", "ISLATrainer_UFL_Res_DS_SEAGs")
# Permanent short names for published models: alias -> grid name.
ALIASES = {"ISLATrainer_B": "ISLATrainer_UFL_Std_DS_SEAGs"}


def trainer_name(loss: str, block: str, deep_supervision: str, attention: str) -> str:
    return f"ISLATrainer_{loss}_{block}_{deep_supervision}_{attention}"


class CPUBudget:
    """Mixin for an ISLA trainer: learning rate 2e-3 decayed linearly to 2e-5 over the run.

    ISLA's 5e-4 suits its ~9,000 steps of batch 8 (300 passes over ~250 cases); a CPU budget of ~1,000
    steps of batch 2 sees 30x fewer samples. On two simulated cases on half the reference grid, a
    StdUNet's training loss fell as far in 40 steps at 3e-3 as in 80 at 1e-3 (docs/training.md); 2e-3
    keeps a margin for batch 2 with dropout. The ratio of first to last rate stays ISLA's 100.
    """

    # First and last learning rate of the run; a class attribute so model cards can name it untrained.
    learning_rate_range = (2e-3, 2e-5)

    # nnU-Net records __init__'s named arguments for its checkpoints, so the signature is spelled out.
    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = _DEFAULT_DEVICE):
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.initial_lr, self.final_lr = self.learning_rate_range
        # nnU-Net writes checkpoint_latest every 50 epochs; a run of 10-50 passes resumes (--c) from the last pass.
        self.save_every = 1


class CPUFineTune(CPUBudget):
    """Mixin for an ISLA trainer that continues trained weights: learning rate 2e-4 decayed linearly to 2e-6.

    A tenth of :class:`CPUBudget`'s rate: with a fresh Adam state, 5e-4 cost the shipped model 0.1
    source Dice within 4 steps, 2e-4 kept it (``scripts/experiment_mean_teacher.py``, docs/mean_teacher.md).
    """

    learning_rate_range = (2e-4, 2e-6)


def _make(name: str, base: type | tuple[type, ...], **attributes) -> type:
    bases = base if isinstance(base, tuple) else (base,)
    cls = type(name, bases, {"__module__": __name__, "__qualname__": name, **attributes})
    cls.__doc__ = f"ISLA trainer {name}: " + ", ".join(f"{k}={v!r}" for k, v in attributes.items())
    return cls


def _add_with_short_runs(trainers: dict[str, type], cls: type) -> None:
    trainers[cls.__name__] = cls
    for epochs in SHORT_RUN_EPOCHS:
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
        _add_with_short_runs(trainers, cls)
    for model in CPU_BUDGET_MODELS:
        for epochs in CPU_BUDGET_EPOCHS:
            name = f"{model}_CPU_{epochs}epochs"
            trainers[name] = _make(name, (CPUBudget, trainers[model]), epochs=epochs)
            trainers[name].__doc__ = f"{model} for a CPU budget: {epochs} passes, learning rate 2e-3 -> 2e-5"
    for epochs in CPU_FINETUNE_EPOCHS:
        name = f"ISLATrainer_B_CPUFineTune_{epochs}epochs"
        trainers[name] = _make(name, (CPUFineTune, trainers["ISLATrainer_B"]), epochs=epochs)
        trainers[name].__doc__ = f"ISLA-B continuing trained weights: {epochs} passes, learning rate 2e-4 -> 2e-6"
    return trainers, tuple(base)


TRAINERS, BASE_TRAINERS = _build()
# Classes live at module level so that pickling and nnU-Net's lookup by attribute both find them.
globals().update(TRAINERS)
__all__ = ["ALIASES", "CPU_BUDGET_MODELS", "CPUBudget", "CPUFineTune", "BASE_TRAINERS", "TRAINERS", "trainer_name",
           *TRAINERS]
