"""The nnU-Net environment: required folders and the values a shell needs to find this plugin."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from isla_nnunet.errors import ISLAError

# On small machines nnU-Net's default worker counts oversubscribe the cores; these are the values the
# project documents for 2-core machines (training with 0 augmentation workers runs in-process).
SMALL_MACHINE_DEFAULTS = {"nnUNet_n_proc_DA": "0", "nnUNet_def_n_proc": "2"}


def trainers_folder() -> Path:
    """Folder to put in ``nnUNet_extTrainer`` so nnU-Net finds the ISLA trainers by name."""
    import isla_nnunet.nnunet_trainers as trainers

    return Path(next(iter(trainers.__path__))).resolve()


def trainers_first(listed: str | None) -> str:
    """An ``nnUNet_extTrainer`` value with the ISLA trainers folder first and the other entries kept.

    Example:
        >>> trainers_first(f"/mine{os.pathsep}{trainers_folder()}").split(os.pathsep)[1]
        '/mine'
    """
    folder = str(trainers_folder())
    others = [p for p in (listed or "").split(os.pathsep) if p and p != folder]
    return os.pathsep.join([folder, *others])


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for a block, then restore each one (unset again if it was unset)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def require(*names: str) -> dict[str, Path]:
    """Return the named nnU-Net folders from the environment, or raise a one-line :class:`ISLAError`."""
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        raise ISLAError(f"environment variable(s) {', '.join(missing)} not set: export them (nnU-Net folders), "
                        "e.g. `export nnUNet_raw=$PWD/nnUNet_raw`, and run `isla env` for the plugin's own")
    return {n: Path(os.environ[n]) for n in names}


def require_ext_trainer() -> None:
    """Raise unless ``nnUNet_extTrainer`` lists the folder holding the ISLA trainers."""
    wanted = trainers_folder()
    listed = [Path(p).resolve() for p in os.environ.get("nnUNet_extTrainer", "").split(os.pathsep) if p]
    if wanted not in listed:
        raise ISLAError(f"nnUNet_extTrainer does not include {wanted}: run `eval \"$(isla env)\"` so nnU-Net "
                        "finds the ISLA trainers")


def export_lines() -> list[str]:
    """Shell lines that make nnU-Net's own commands find the ISLA trainers (printed by ``isla env``)."""
    lines = [f"export nnUNet_extTrainer={trainers_first(os.environ.get('nnUNet_extTrainer'))}"]
    for name, value in SMALL_MACHINE_DEFAULTS.items():
        lines.append(f"export {name}={os.environ.get(name, value)}")
    return lines
