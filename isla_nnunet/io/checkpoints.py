"""Reading nnU-Net checkpoints without running code from them.

A ``.pth`` file is a pickle, and a pickle can call any Python function while it is read: nnU-Net
itself loads checkpoints with ``torch.load(..., weights_only=False)``, so a crafted model folder runs
its payload under ``nnUNetv2_predict``. This project reads checkpoints with ``weights_only=True``:
tensors, containers, numbers and strings, plus the few numpy scalar types nnU-Net's trainers store
(``_best_ema`` is a numpy float, the logs hold numpy numbers). Anything else is refused.

Example:
    >>> check_checkpoint_name("checkpoint_final.pth")
    'checkpoint_final.pth'
    >>> check_checkpoint_name("../../elsewhere.pth")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    isla_nnunet.errors.ISLAError: --checkpoint '../../elsewhere.pth' is not a file name: ...
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import numpy as np

from isla_nnunet.errors import ISLAError

FINAL_CHECKPOINT = "checkpoint_final.pth"
"""The file nnU-Net writes at the end of a fold's training, and the one every loader here reads by default."""

_NUMPY_TYPES = (np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8,
                np.bool_)


def safe_globals() -> list:
    """The non-torch types a checkpoint may hold: numpy scalars (as pickled) and their dtypes."""
    scalar = np._core.multiarray.scalar if hasattr(np, "_core") else np.core.multiarray.scalar
    return [scalar, np.dtype, *(type(np.dtype(t)) for t in _NUMPY_TYPES)]


def check_checkpoint_name(name: str) -> str:
    """Return ``name`` if it is a plain file name (what ``--checkpoint`` takes), else raise.

    Raises:
        ISLAError: an empty name, a path (``/``, ``..``), or an absolute path.
    """
    text = str(name)
    separators = [s for s in (os.sep, os.altsep, "/") if s]
    if not text or text in (".", "..") or any(s in text for s in separators) or Path(text).is_absolute():
        raise ISLAError(f"--checkpoint {text!r} is not a file name: give the name of a file inside each "
                        "fold folder, e.g. checkpoint_final.pth or checkpoint_best.pth")
    return text


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """The checkpoint at ``path`` as a dict, read with ``torch.load(weights_only=True)``.

    Args:
        path: a ``.pth`` file written by ``torch.save`` (an nnU-Net trainer's checkpoint).
        map_location: as for ``torch.load``.

    Raises:
        ISLAError: the file is missing or unreadable, holds anything but tensors, containers, numbers,
            strings and numpy scalars (the refused type is named), or is not a dict.
    """
    import torch

    path = Path(path)
    try:
        with torch.serialization.safe_globals(safe_globals()):
            checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL (\S+)", str(err))
        what = f"the Python object {found.group(1)}" if found else "Python objects beyond tensors and numbers"
        raise ISLAError(f"checkpoint {path} holds {what}, which could run code when read: refusing it; "
                        "use a model folder written by nnU-Net training that you trust") from None
    except FileNotFoundError:
        raise ISLAError(f"checkpoint {path} does not exist: choose another fold or --checkpoint") from None
    except (OSError, RuntimeError, EOFError, ValueError) as err:
        raise ISLAError(f"cannot read checkpoint {path} ({type(err).__name__}): the file is damaged or not "
                        "a torch checkpoint; copy the model again") from None
    if not isinstance(checkpoint, dict):
        raise ISLAError(f"checkpoint {path} holds a {type(checkpoint).__name__}, not an nnU-Net checkpoint "
                        "dict: give a checkpoint written by nnU-Net training")
    return checkpoint
