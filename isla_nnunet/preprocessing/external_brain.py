"""Optional external brain extraction tools, used only when installed with local weights.

- ``synthstrip``: FreeSurfer's ``mri_synthstrip`` (FreeSurfer >= 7.3; Hoopes et al., NeuroImage 2022),
  the tool ISLA uses. Weights: ``$ISLA_SYNTHSTRIP_MODEL`` or ``$FREESURFER_HOME/models/synthstrip.1.pt``.
- ``hd-bet``: the ``hd-bet`` command of the HD-BET package (Isensee et al., Hum Brain Mapp 2019),
  run on the CPU without test-time augmentation. Weights: ``$ISLA_HDBET_PARAMS`` or ``~/hd-bet_params``;
  HD-BET downloads them on first use, which this project never triggers, so they must be present.
  HD-BET was trained on T1/T2/FLAIR, not DWI: prefer SynthStrip or the built-in method.

Nothing is downloaded: a missing command or missing weights raises an :class:`ISLAError` naming what is
missing.

Example:
    >>> mask = run_external("synthstrip", case.dwi)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.io.geometry import copy_grid, same_grid

EXTERNAL_METHODS = ("synthstrip", "hd-bet")
TIMEOUT_S = 1800


def synthstrip_model() -> Path:
    """Path of the SynthStrip weights that will be used (it may not exist)."""
    if os.environ.get("ISLA_SYNTHSTRIP_MODEL"):
        return Path(os.environ["ISLA_SYNTHSTRIP_MODEL"])
    return Path(os.environ.get("FREESURFER_HOME", "/usr/local/freesurfer")) / "models" / "synthstrip.1.pt"


def hdbet_params() -> Path:
    """Folder of the HD-BET weights that will be used (it may not exist)."""
    return Path(os.environ.get("ISLA_HDBET_PARAMS", Path.home() / "hd-bet_params"))


def _command(method: str, dwi_path: Path, out_path: Path) -> tuple[list[str], list[Path]]:
    """Command line to run and the files where its mask may appear."""
    if method == "synthstrip":
        exe = shutil.which("mri_synthstrip")
        if exe is None:
            raise ISLAError(
                "SynthStrip is not installed (no mri_synthstrip on PATH): install FreeSurfer >= 7.3 "
                "or use --brain template"
            )
        model = synthstrip_model()
        if not model.is_file():
            raise ISLAError(
                f"SynthStrip weights not found at {model}: set ISLA_SYNTHSTRIP_MODEL to synthstrip.1.pt "
                "or use --brain template"
            )
        return [exe, "-i", str(dwi_path), "-m", str(out_path), "--model", str(model)], [out_path]
    exe = shutil.which("hd-bet")
    if exe is None:
        raise ISLAError(
            "HD-BET is not installed (no hd-bet on PATH): pip install hd-bet, or use --brain template"
        )
    params = hdbet_params()
    if not params.is_dir() or not any(params.iterdir()):
        raise ISLAError(
            f"HD-BET weights not found in {params}: copy them there (or set ISLA_HDBET_PARAMS), "
            "or use --brain template"
        )
    help_text = subprocess.run([exe, "-h"], capture_output=True, encoding="utf-8", errors="replace", timeout=120).stdout
    stem = str(out_path)[: -len(".nii.gz")]
    if "--save_bet_mask" in help_text:  # HD-BET 2.x
        args = ["-device", "cpu", "--disable_tta", "--save_bet_mask"]
    else:  # HD-BET 1.x
        args = ["-device", "cpu", "-mode", "fast", "-tta", "0"]
    return [exe, "-i", str(dwi_path), "-o", str(out_path), *args], [
        Path(f"{stem}_bet.nii.gz"),
        Path(f"{stem}_mask.nii.gz"),
    ]


def run_external(method: str, dwi: sitk.Image) -> sitk.Image:
    """Brain mask (uint8, on ``dwi``'s grid) computed by an external tool.

    Raises:
        ISLAError: unknown method, tool or weights missing, the tool failed or wrote no mask.
    """
    if method not in EXTERNAL_METHODS:
        raise ISLAError(
            f"unknown external brain extraction {method!r}: use one of {', '.join(EXTERNAL_METHODS)}"
        )
    with tempfile.TemporaryDirectory(prefix="isla_brain_") as tmp:
        dwi_path, out_path = Path(tmp) / "dwi.nii.gz", Path(tmp) / "brain.nii.gz"
        command, candidates = _command(method, dwi_path, out_path)
        sitk.WriteImage(dwi, str(dwi_path))
        done = subprocess.run(command, capture_output=True, encoding="utf-8", errors="replace", timeout=TIMEOUT_S)
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no message"]
            raise ISLAError(
                f"{method} failed ({last[0][:160]}): run it by hand on the DWI to see why, "
                "or use --brain template"
            )
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise ISLAError(f"{method} wrote no brain mask: check its version, or use --brain template")
        mask = sitk.Cast(sitk.ReadImage(str(found)) > 0, sitk.sitkUInt8)
    if not same_grid(mask, dwi):
        raise ISLAError(f"{method} returned a mask on another grid than the DWI: use --brain template")
    return copy_grid(mask, dwi)
