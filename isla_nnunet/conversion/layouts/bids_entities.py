"""DWI/ADC acquisitions of a BIDS dataset found by their entities, one per subject, session and run.

A BIDS name is ``sub-<label>[_ses-<label>][_<key>-<value>...]_<suffix>.nii[.gz]``. Per subject and
session, and per combination of the other entities apart from ``rec`` (``acq``, ``run``, ...):

* the trace DWI is suffix ``dwi`` without ``rec`` or with ``rec-TRACE`` (ISLES'22:
  ``sub-X_ses-Y_dwi``, SOOP: ``sub-X_rec-TRACE_dwi``);
* the ADC is suffix ``adc`` (ISLES'22) or suffix ``dwi`` with ``rec-ADC`` (SOOP);
* a b=0 image, used when there is no ADC, is ``rec-b0`` with suffix ``dwi``, or suffix ``b0``.

Files under ``derivatives/`` and hidden folders are not inputs. An acquisition with a DWI but neither
ADC nor b=0 is kept (a 4-D DWI with its b-values still works) and fails later with the pipeline's own
message if the DWI cannot provide an ADC.

Example:
    >>> parse_name("sub-3_rec-TRACE_dwi.nii.gz")
    ('dwi', {'sub': '3', 'rec': 'TRACE'})
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from isla_nnunet.errors import ISLAError

_ENTITY = re.compile(r"^([a-zA-Z0-9]+)-([a-zA-Z0-9]+)$")
_SUFFIXES = (".nii.gz", ".nii")


def parse_name(name: str) -> tuple[str, dict[str, str]] | None:
    """(suffix, entities) of a BIDS NIfTI file name, or None when the name is not one."""
    stem = next((name[: -len(s)] for s in _SUFFIXES if name.endswith(s)), None)
    if stem is None:
        return None
    *parts, suffix = stem.split("_")
    entities = {}
    for part in parts:
        match = _ENTITY.match(part)
        if match is None:
            return None
        entities[match[1]] = match[2]
    if "sub" not in entities or not parts or not parts[0].startswith("sub-"):
        return None
    return suffix, entities


@dataclass(frozen=True)
class BidsAcquisition:
    """One DWI of a subject and session, with its ADC or b=0 image and the entities that name it."""

    subject: str
    session: str | None
    entities: tuple[tuple[str, str], ...]
    dwi: Path
    adc: Path | None = None
    b0: Path | None = None

    @property
    def prefix(self) -> str:
        """The output name's entities: ``sub-X[_ses-Y][_acq-..][_run-..]``."""
        parts = [f"sub-{self.subject}"] + ([f"ses-{self.session}"] if self.session else [])
        return "_".join(parts + [f"{k}-{v}" for k, v in self.entities])

    @property
    def folder(self) -> Path:
        """``sub-X[/ses-Y]/dwi`` relative to a dataset root."""
        return Path(f"sub-{self.subject}", *([f"ses-{self.session}"] if self.session else []), "dwi")


def _role(suffix: str, entities: dict[str, str]) -> str | None:
    rec = entities.get("rec", "").lower()
    if suffix == "adc" and rec in ("", "adc"):
        return "adc"
    if suffix == "b0":
        return "b0"
    if suffix == "dwi":
        return {"": "dwi", "trace": "dwi", "adc": "adc", "b0": "b0"}.get(rec)
    return None


def find_acquisitions(root: str | os.PathLike, participants: list[str] | None = None) -> list[BidsAcquisition]:
    """Every DWI acquisition under ``root``, sorted by subject, session and entities.

    Args:
        root: the BIDS dataset folder.
        participants: subject labels to keep (with or without ``sub-``); None keeps all.

    Raises:
        ISLAError: ``root`` is not a folder, holds no DWI, a requested participant has none, or one
            acquisition has two files of the same role.
    """
    root = Path(root)
    if not root.is_dir():
        raise ISLAError(f"BIDS folder {root} not found: give the dataset's root folder")
    wanted = None if participants is None else {p.removeprefix("sub-") for p in participants}
    found: dict[tuple, dict[str, Path]] = {}
    for folder, subfolders, files in os.walk(root, followlinks=True):
        subfolders[:] = sorted(d for d in subfolders if d != "derivatives" and not d.startswith("."))
        for name in sorted(files):
            parsed = parse_name(name)
            if parsed is None:
                continue
            suffix, entities = parsed
            role = _role(suffix, entities)
            if role is None or (wanted is not None and entities["sub"] not in wanted):
                continue
            others = tuple(sorted((k, v) for k, v in entities.items() if k not in ("sub", "ses", "rec")))
            key = (entities["sub"], entities.get("ses"), others)
            files_of = found.setdefault(key, {})
            if role in files_of:
                raise ISLAError(f"two {role} images for {'_'.join(f'{k}-{v}' for k, v in entities.items())}: "
                                f"{files_of[role]} and {Path(folder) / name}; remove one")
            files_of[role] = Path(folder) / name
    order = sorted(found, key=lambda key: (key[0], key[1] or "", key[2]))
    acquisitions = [BidsAcquisition(subject, session, others, found[key]["dwi"], found[key].get("adc"),
                                    found[key].get("b0"))
                    for key in order for subject, session, others in [key] if "dwi" in found[key]]
    if wanted is not None:
        missing = sorted(wanted - {a.subject for a in acquisitions})
        if missing:
            raise ISLAError(f"no DWI for participant(s) {', '.join(missing)} in {root}: check "
                            "--participant-label against the sub-<label> folders")
    if not acquisitions:
        raise ISLAError(f"no DWI found in {root}: expected BIDS names such as sub-01_ses-01_dwi.nii.gz with "
                        "sub-01_ses-01_adc.nii.gz (ISLES'22) or sub-01_rec-TRACE_dwi / sub-01_rec-ADC_dwi (SOOP)")
    return acquisitions


def participants_of(acquisitions: list[BidsAcquisition]) -> list[str]:
    """Subject labels in order, each once."""
    return list(dict.fromkeys(a.subject for a in acquisitions))
