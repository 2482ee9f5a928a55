"""Run nnU-Net's own commands (``nnUNetv2_train``, ``nnUNetv2_predict``, ...) as a user would.

The demo and the end-to-end tests use it so that they exercise exactly the commands users type, each
in a child process with an explicit environment (its own ``nnUNet_raw``/``nnUNet_preprocessed``/
``nnUNet_results`` and ``nnUNet_extTrainer``), leaving the caller's environment untouched. A failing
command raises one :class:`~isla_nnunet.errors.ISLAError` naming the command, its exit status, the
last lines it printed and the log that holds the rest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from isla_nnunet.errors import ISLAError
from isla_nnunet.nnunet import environment as nnunet_env

FOLDER_VARIABLES = ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results")


def nnunet_environment(root: str | os.PathLike, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment whose nnU-Net folders live under ``root`` and which finds the ISLA trainers.

    Example:
        >>> env = nnunet_environment("/data/isla", base={})
        >>> env["nnUNet_results"], env["nnUNet_n_proc_DA"]
        ('/data/isla/nnUNet_results', '0')
    """
    env = dict(os.environ if base is None else base)
    for name in FOLDER_VARIABLES:
        env[name] = str(Path(root) / name)
    env["nnUNet_extTrainer"] = nnunet_env.trainers_first(env.get("nnUNet_extTrainer"))
    for name, value in nnunet_env.SMALL_MACHINE_DEFAULTS.items():
        env.setdefault(name, value)
    return env


def executable(name: str) -> str:
    """Path of an installed console command, preferring the running interpreter's environment."""
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        raise ISLAError(f"command {name} not found: install the package (`pip install -e .`) "
                        "in this environment")
    return found


def run(command: Sequence[str], env: Mapping[str, str], log: str | os.PathLike, echo=None) -> None:
    """Run ``command`` (first item a console-command name) with output appended to ``log``.

    Lines are passed to ``echo`` as they come (e.g. ``print`` to show progress) when given.

    Raises:
        ISLAError: the command is missing or exits with a non-zero status.
    """
    argv = [executable(command[0]), *map(str, command[1:])]
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    tail: list[str] = []
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"$ {' '.join(argv)}\n")
        # Progress bars print non-ASCII; decode as UTF-8 whatever the locale (CI often has none).
        process = subprocess.Popen(argv, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   encoding="utf-8", errors="replace", bufsize=1)
        assert process.stdout is not None
        for line in process.stdout:
            handle.write(line)
            if line.strip():
                tail = (tail + [line.rstrip()])[-5:]
                if echo is not None:
                    echo(line.rstrip())
        status = process.wait()
    if status != 0:
        last = " | ".join(tail) or "no output"
        raise ISLAError(f"{command[0]} failed with status {status}: {last} (full output in {log})")
