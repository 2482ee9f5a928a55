"""Checks before ``nnUNetv2_train``: is everything in place for this dataset, plans and trainer?

nnU-Net answers an unknown trainer name or missing plans with a long traceback, possibly after
minutes of start-up. :func:`check_training_setup` (``isla check``) tells in one line what is wrong and
what to do, and suggests the nearest trainer names for a typo.

Example:
    >>> "ISLATrainer_UFL_Std_DS_NoAtt" in shipped_trainers()
    True
    >>> closest_trainers("ISLATrainer_UFL_Std_DS_NoAt")[0]
    'ISLATrainer_UFL_Std_DS_NoAtt'
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import json
import os
import pkgutil
from pathlib import Path

from isla_nnunet.errors import ISLAError
from isla_nnunet.nnunet import environment as nnunet_env
from isla_nnunet.nnunet.isla_plans import CONFIGURATION, PLANS_NAME
from isla_nnunet.precision import PRECISION_SETTINGS, PRECISION_VARIABLE


def shipped_trainers() -> dict[str, type]:
    """Every trainer class nnU-Net can find in this plugin's trainer folder, by name."""
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    import isla_nnunet.nnunet_trainers as package

    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, nnUNetTrainer) and value is not nnUNetTrainer:
                found[name] = value
    return dict(sorted(found.items()))


def closest_trainers(name: str, n: int = 3) -> list[str]:
    return difflib.get_close_matches(name, list(shipped_trainers()), n=n, cutoff=0.6)


def resolve_trainer(name: str) -> type:
    """The ISLA trainer class called ``name``, or a one-line :class:`ISLAError` with suggestions."""
    trainers = shipped_trainers()
    if name in trainers:
        return trainers[name]
    suggestions = closest_trainers(name)
    hint = f"did you mean {', '.join(suggestions)}?" if suggestions else "`isla check --list-trainers` lists them"
    raise ISLAError(f"unknown ISLA trainer {name!r}: {hint}")


def check_training_setup(dataset_id: int, trainer: str, plans: str = PLANS_NAME,
                         configuration: str = CONFIGURATION) -> list[str]:
    """Raise a one-line :class:`ISLAError` for the first problem found; return what was checked.

    Checks the nnU-Net environment variables, that ``nnUNet_extTrainer`` lists the ISLA trainers, the
    CPU precision setting (``ISLA_CPU_PRECISION``), the trainer name, the preprocessed dataset, the plans
    file and configuration, and the preprocessed data.
    """
    from nnunetv2.utilities.dataset_name_id_conversion import maybe_convert_to_dataset_name

    folders = nnunet_env.require("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results")
    nnunet_env.require_ext_trainer()
    precision = os.environ.get(PRECISION_VARIABLE)
    if precision is not None and precision.strip().lower() not in PRECISION_SETTINGS:
        raise ISLAError(f"{PRECISION_VARIABLE}={precision!r} is not a CPU precision: set it to "
                        f"{', '.join(PRECISION_SETTINGS)} or unset it (auto)")
    trainer_class = resolve_trainer(trainer)
    try:
        dataset = maybe_convert_to_dataset_name(dataset_id)
    except RuntimeError:
        raise ISLAError(f"no dataset with id {dataset_id} in nnUNet_raw or nnUNet_preprocessed: create it with "
                        "`isla convert` or `isla simulate`, then `isla plan`") from None
    preprocessed = folders["nnUNet_preprocessed"] / dataset
    plans_file = preprocessed / f"{plans}.json"
    if not plans_file.is_file():
        raise ISLAError(f"no plans {plans!r} for {dataset} (looked for {plans_file}): run `isla plan -d {dataset_id}`")
    configurations = json.loads(plans_file.read_text()).get("configurations", {})
    if configuration not in configurations:
        raise ISLAError(f"plans {plans!r} have no configuration {configuration!r} (they have "
                        f"{', '.join(configurations) or 'none'}): ISLA trains {CONFIGURATION}")
    data_folder = preprocessed / configurations[configuration].get("data_identifier", f"{plans}_{configuration}")
    if not data_folder.is_dir() or not any(data_folder.iterdir()):
        raise ISLAError(f"preprocessed data missing in {data_folder}: run `isla plan -d {dataset_id}` again")
    return ["environment: nnUNet_raw, nnUNet_preprocessed, nnUNet_results, nnUNet_extTrainer",
            f"trainer {trainer} ({trainer_class.__module__})", f"plans {plans_file}",
            f"preprocessed cases in {data_folder}: {_count_cases(data_folder)}"]


def _count_cases(folder: Path) -> int:
    # nnU-Net writes one properties file per preprocessed case.
    return len(list(folder.glob("*.pkl")))
