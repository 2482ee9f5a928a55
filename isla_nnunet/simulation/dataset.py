"""Write simulated cases to disk: an nnU-Net raw dataset on the reference grid, or native-space cases.

nnU-Net dataset (:func:`write_nnunet_dataset`), simulated straight onto the ISLA reference grid::

    nnUNet_raw/Dataset501_SimStroke/
        dataset.json              channel_names {"0": "DWI", "1": "ADC"}, labels, numTraining, ...
        imagesTr/case_0000_0000.nii.gz (DWI), case_0000_0001.nii.gz (ADC)
        labelsTr/case_0000.nii.gz (uint8 {0, 1})
        imagesTs/, labelsTs/      test cases and their ground truth (nnU-Net ignores labelsTs)
        imagesUnlabeledTr/        unlabeled images (e.g. target domain), same naming, no labels
        simulation.json           per-case truth: split, seed, domain, acquisition, lesion, pose

Case ids run across the splits (train, then test, then unlabeled), so an id names one case. The
unlabeled folder is announced in dataset.json under ``"unlabeled": {"folder": "imagesUnlabeledTr",
"numUnlabeled": N, "domain": "..."}``; nnU-Net reads neither that key nor that folder.

Native cases (:func:`write_native_cases`) are written ISLES-style: ``case_0000_dwi.nii.gz``,
``_adc``, ``_msk`` (lesion), ``_brainmask`` and a ``case_0000.json`` sidecar with the b-value, the ADC
units and the pose.

Everything is written to a temporary name first and moved into place with :func:`os.replace`, and
existing outputs are only replaced with ``overwrite=True``.

Example:
    >>> import tempfile, pathlib, json
    >>> raw = pathlib.Path(tempfile.mkdtemp())
    >>> folder = write_nnunet_dataset(raw, 501, "SimStroke", n_train=2, n_test=1, n_unlabeled=1)
    >>> json.loads((folder / "dataset.json").read_text())["unlabeled"]["numUnlabeled"]
    1
"""

from __future__ import annotations

import contextlib
import functools
import json
import multiprocessing
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
from tqdm import tqdm

from isla_nnunet import reference
from isla_nnunet.errors import ISLAError
from isla_nnunet.io.units import CANONICAL_ADC_UNIT
from isla_nnunet.nnunet.layout import CHANNEL_NAMES, FILE_ENDING, LABELS, UNLABELED_FOLDER
from isla_nnunet.simulation.case import SimulatedCase, simulate_case
from isla_nnunet.simulation.domains import Domain, get_domain
from isla_nnunet.simulation.geometry import GRIDS
from isla_nnunet.simulation.to_reference import reference_arrays
from isla_nnunet.worker_exit import exit_with_parent

# Seed streams per split, so adding test or unlabeled cases never changes the training cases.
_STREAMS = {"train": 0, "test": 1, "unlabeled": 2}


def case_seed(seed: int, split: str, index: int) -> int:
    """Seed of case ``index`` of a split; ``simulate_case(case_seed(...), domain)`` rebuilds it."""
    return int(np.random.SeedSequence([int(seed), _STREAMS[split], int(index)]).generate_state(1)[0])


def _save_nifti(array: np.ndarray, affine: np.ndarray, path: Path) -> None:
    image = nib.Nifti1Image(array, affine)
    # Both qform and sform, so every reader (nibabel, SimpleITK/ITK) sees the same grid.
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    image.header.set_xyzt_units("mm", "sec")
    nib.save(image, path)


def _check_overwrite(targets: list[Path], overwrite: bool) -> None:
    existing = [p for p in targets if p.exists()]
    if existing and not overwrite:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise ISLAError(
            f"{existing[0]}{more} would be overwritten; pass --overwrite (overwrite=True) to replace"
        )


def _progress(items, total: int, enabled: bool, label: str) -> Iterator:
    return iter(tqdm(items, total=total, desc=label, unit="case")) if enabled else iter(items)


def write_nnunet_dataset(
    raw_root: str | os.PathLike,
    dataset_id: int,
    name: str,
    n_train: int,
    n_test: int = 0,
    domain: str | Domain | Sequence[str | Domain] = "source",
    seed: int = 0,
    *,
    n_unlabeled: int = 0,
    unlabeled_domain: str | Domain = "target",
    test_domain: str | Domain | None = None,
    adc_unit: float | None = CANONICAL_ADC_UNIT,
    pattern_weights: Mapping[str, float] | None = None,
    overwrite: bool = False,
    progress: bool = False,
    workers: int = 1,
) -> Path:
    """Simulate an nnU-Net raw dataset on the ISLA reference grid (layout in the module docstring).

    Args:
        raw_root: the nnUNet_raw folder.
        dataset_id: 1-999; refused when another dataset already uses the id.
        name: dataset name (letters, digits, ``_``, ``-``); the folder is ``Dataset{id:03d}_{name}``.
        n_train, n_test: labeled training and test cases, drawn from ``domain``.
        domain: acquisition domain of the labeled cases (its grid is replaced by the reference grid),
            or several, taken in turn (case i from ``domain[i % len(domain)]``) for a mixed dataset.
        seed: dataset seed; case seeds are derived from it (see :func:`case_seed`).
        n_unlabeled: images without labels, drawn from ``unlabeled_domain`` (for Mean Teacher).
        test_domain: domain of the test cases when it differs from ``domain`` (e.g. train on
            "source", test on "target"); default: the (first) labeled domain.
        adc_unit: store every ADC in this unit (mm^2/s per value; default the project's canonical
            1e-6, as ``isla convert`` writes), or ``None`` to keep each domain's own unit.
        pattern_weights: lesion pattern probabilities (see ``lesions.DEFAULT_PATTERN_WEIGHTS``).
        overwrite: replace an existing dataset of the same id and name.
        progress: show a tqdm progress bar.
        workers: processes simulating and writing cases in parallel; the output does not depend on it.

    Returns:
        The dataset folder.
    """
    if not 1 <= int(dataset_id) <= 999:
        raise ISLAError(f"nnU-Net dataset ids are 1-999, got {dataset_id}")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ISLAError(f"dataset name {name!r} must use only letters, digits, '_' and '-'")
    if n_train < 1 or n_test < 0 or n_unlabeled < 0:
        raise ISLAError(
            f"need n_train >= 1 and n_test, n_unlabeled >= 0; got {n_train}, {n_test}, {n_unlabeled}"
        )
    if workers < 1:
        raise ISLAError(f"workers must be >= 1, got {workers}")
    if adc_unit is not None and not adc_unit > 0:
        raise ISLAError(f"ADC unit must be a positive number of mm^2/s (e.g. 1e-6) or None, got {adc_unit}")
    mixture = [get_domain(d) for d in ([domain] if isinstance(domain, str | Domain) else domain)]
    if not mixture:
        raise ISLAError("no simulation domain given: name at least one, e.g. source")
    labeled, unlabeled = mixture[0], get_domain(unlabeled_domain)
    tested = get_domain(test_domain) if test_domain is not None else labeled
    raw_root = Path(raw_root)
    folder = raw_root / f"Dataset{int(dataset_id):03d}_{name}"
    others = [p for p in raw_root.glob(f"Dataset{int(dataset_id):03d}_*") if p != folder]
    if others:
        raise ISLAError(f"dataset id {dataset_id} is already used by {others[0]}; choose another id")
    _check_overwrite([folder], overwrite)

    plan = [("train", i, mixture[i % len(mixture)]) for i in range(n_train)]
    plan += [("test", i, tested) for i in range(n_test)]
    plan += [("unlabeled", i, unlabeled) for i in range(n_unlabeled)]
    folders = {
        "train": ("imagesTr", "labelsTr"),
        "test": ("imagesTs", "labelsTs"),
        "unlabeled": (UNLABELED_FOLDER, None),
    }

    raw_root.mkdir(parents=True, exist_ok=True)
    staging = raw_root / f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        for split, subfolders in folders.items():
            if split != "unlabeled" or n_unlabeled:
                for sub in filter(None, subfolders):
                    (staging / sub).mkdir(parents=True)
        jobs = [(f"case_{number:04d}", split, case_seed(seed, split, index), case_domain, folders[split])
                for number, (split, index, case_domain) in enumerate(plan)]
        write = functools.partial(_write_reference_case, staging=staging, adc_unit=adc_unit,
                                  pattern_weights=dict(pattern_weights) if pattern_weights else None)
        records = {}
        with _case_mapper(workers) as mapper:
            for case_id, record in _progress(mapper(write, jobs), len(jobs), progress, folder.name):
                records[case_id] = record
        dataset_json = {
            "name": name,
            "description": "Synthetic acute-stroke DWI/ADC, ISLA reference grid (isla_nnunet.simulation)",
            "channel_names": CHANNEL_NAMES,
            "labels": LABELS,
            "numTraining": n_train,
            "file_ending": FILE_ENDING,
            "simulation": {"domain": "+".join(d.name for d in mixture), "test_domain": tested.name,
                           "seed": int(seed)},
            "isla": {
                "reference_grid": {
                    "shape_xyz": list(reference.SHAPE_XYZ),
                    "spacing_xyz": list(reference.SPACING_XYZ),
                    "orientation": reference.ORIENTATION,
                    "affine_ras": reference.affine().tolist(),
                },
                "numTest": n_test,
            },
        }
        if adc_unit is not None:
            dataset_json["isla"]["adc_unit_mm2_per_s"] = adc_unit
        if n_unlabeled:
            dataset_json["unlabeled"] = {
                "folder": UNLABELED_FOLDER,
                "numUnlabeled": n_unlabeled,
                "domain": unlabeled.name,
            }
        (staging / "dataset.json").write_text(json.dumps(dataset_json, indent=2) + "\n")
        (staging / "simulation.json").write_text(json.dumps({"cases": records}, indent=2) + "\n")
        if folder.exists():
            retired = raw_root / f".{folder.name}.{uuid.uuid4().hex[:8]}.old"
            os.replace(folder, retired)
            os.replace(staging, folder)
            shutil.rmtree(retired)
        else:
            os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _write_reference_case(job, *, staging: Path, adc_unit: float | None,
                          pattern_weights: dict | None) -> tuple[str, dict]:
    case_id, split, seed, case_domain, (images, labels) = job
    options = case_domain.randomisation
    if options.native_slices_mm is None:
        case = simulate_case(seed, case_domain, grid=GRIDS["reference"], pattern_weights=pattern_weights)
        dwi, adc, lesion = case.dwi, case.adc, case.lesion
        if adc_unit is not None:
            adc = (adc * np.float32(case.acquisition.adc_unit / adc_unit)).astype(np.float32)
        record = case.metadata()
    else:
        # Native grid first, then onto the reference grid the way isla predict maps a scan.
        case = simulate_case(seed, case_domain, pattern_weights=pattern_weights)
        jitter = options.sample_jitter(options.streams(seed)["registration_jitter"])
        dwi, adc, lesion = reference_arrays(case, jitter, adc_unit=adc_unit)
        record = {**case.metadata(), "registration_jitter": jitter.to_dict(),
                  "reference_lesion_volume_ml": round(float(lesion.sum()) * GRIDS["reference"].voxel_volume_ml, 4)}
    affine = reference.affine()
    _save_nifti(dwi, affine, staging / images / f"{case_id}_0000{FILE_ENDING}")
    _save_nifti(adc, affine, staging / images / f"{case_id}_0001{FILE_ENDING}")
    if labels is not None:
        _save_nifti(lesion, affine, staging / labels / f"{case_id}{FILE_ENDING}")
    return case_id, {"split": split, **record}


@contextlib.contextmanager
def _case_mapper(workers: int):
    """An ordered ``map`` over cases: the built-in one, or a process pool's when ``workers > 1``."""
    if workers == 1:
        yield map
        return
    # Each simulated case is independent; "spawn" avoids forking a parent that may hold torch threads.
    with multiprocessing.get_context("spawn").Pool(workers, initializer=exit_with_parent,
                                                   initargs=(os.getpid(),)) as pool:
        yield functools.partial(pool.imap, chunksize=1)


def _native_files(out_dir: Path, case_id: str, brain_mask: bool) -> dict[str, Path]:
    files = {kind: out_dir / f"{case_id}_{kind}{FILE_ENDING}" for kind in ("dwi", "adc", "msk")}
    if brain_mask:
        files["brainmask"] = out_dir / f"{case_id}_brainmask{FILE_ENDING}"
    files["json"] = out_dir / f"{case_id}.json"
    return files


def write_native_case(
    case: SimulatedCase,
    out_dir: str | os.PathLike,
    case_id: str,
    *,
    brain_mask: bool = True,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write one case in its native grid; returns ``{"dwi", "adc", "msk"[, "brainmask"], "json"}`` paths."""
    out_dir = Path(out_dir)
    files = _native_files(out_dir, case_id, brain_mask)
    _check_overwrite(list(files.values()), overwrite)
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays = {"dwi": case.dwi, "adc": case.adc, "msk": case.lesion, "brainmask": case.brain_mask}
    staging = out_dir / f".{case_id}.{uuid.uuid4().hex[:8]}.tmp"
    staging.mkdir()
    try:
        for kind, path in files.items():
            temporary = staging / path.name
            if kind == "json":
                metadata = {**case.metadata(), "affine": case.affine.round(6).tolist()}
                temporary.write_text(json.dumps(metadata, indent=2) + "\n")
            else:
                _save_nifti(arrays[kind], case.affine, temporary)
        for path in files.values():
            os.replace(staging / path.name, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return files


def write_native_cases(
    out_dir: str | os.PathLike,
    n_cases: int,
    domain: str | Domain = "isles22-like",
    seed: int = 0,
    *,
    brain_mask: bool = True,
    pattern_weights: Mapping[str, float] | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> list[dict[str, Path]]:
    """Simulate ``n_cases`` cases on the domain's native grid and write them to ``out_dir``.

    Case ``k`` is ``case_{k:04d}`` with seed ``case_seed(seed, "train", k)``. Refuses to replace any
    existing file unless ``overwrite``; the check covers all cases before anything is simulated.
    """
    if n_cases < 1:
        raise ISLAError(f"need at least one case, got {n_cases}")
    settings = get_domain(domain)
    out_dir = Path(out_dir)
    ids = [f"case_{k:04d}" for k in range(n_cases)]
    _check_overwrite([p for i in ids for p in _native_files(out_dir, i, brain_mask).values()], overwrite)
    written = []
    for k, case_id in enumerate(_progress(ids, n_cases, progress, str(out_dir))):
        case = simulate_case(
            case_seed(seed, "train", k),
            settings,
            pattern_weights=dict(pattern_weights) if pattern_weights else None,
        )
        written.append(write_native_case(case, out_dir, case_id, brain_mask=brain_mask, overwrite=True))
    return written
