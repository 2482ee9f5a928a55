"""Where Mean Teacher's unlabeled (target-domain) images live, and their preprocessing.

Raw layout (written by ``isla simulate`` and ``isla convert``)::

    nnUNet_raw/DatasetXXX_Name/
        imagesTr/, labelsTr/        labeled (source-domain) cases: nnU-Net's training set
        imagesUnlabeledTr/          unlabeled images, nnU-Net's naming: <case>_0000.nii.gz, <case>_0001.nii.gz
        dataset.json                ... "unlabeled": {"folder": "imagesUnlabeledTr", "numUnlabeled": N, ...}

nnU-Net reads neither the key nor the folder, so the unlabeled images never enter its fingerprint,
its splits (``splits_final.json`` lists labeled cases only) or its validation. ``isla plan``
preprocesses them with the dataset's own plans (same normalisation, cropping and resampling as the
labeled cases) into a sibling of nnU-Net's folder::

    nnUNet_preprocessed/DatasetXXX_Name/ISLAPlans_3d_fullres/            labeled cases (nnU-Net)
    nnUNet_preprocessed/DatasetXXX_Name/ISLAPlans_3d_fullres_unlabeled/  unlabeled images (this module)

Each unlabeled case is stored like a labeled one whose segmentation holds only 0 (inside the
nonzero/brain box) and -1 (outside), the marker nnU-Net writes for cases without labels; that map
only serves to zero the non-brain voxels after augmentation. The Mean Teacher trainer preprocesses
missing unlabeled images itself, so a dataset prepared with the stock ``nnUNetv2_plan_and_preprocess``
works too.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import uuid
from pathlib import Path

from isla_nnunet.errors import ISLAError

UNLABELED_KEY = "unlabeled"
UNLABELED_SUFFIX = "_unlabeled"


def unlabeled_folder(raw_folder: str | os.PathLike, dataset_json: dict) -> Path | None:
    """The raw folder named by ``dataset_json["unlabeled"]["folder"]``, or ``None`` without that key.

    Raises:
        ISLAError: the key is malformed or names a folder that does not exist.
    """
    entry = dataset_json.get(UNLABELED_KEY)
    if entry is None:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("folder"), str):
        raise ISLAError(f'dataset.json "{UNLABELED_KEY}" is {entry!r}; write '
                        '{"folder": "imagesUnlabeledTr", "numUnlabeled": N}')
    folder = Path(raw_folder) / entry["folder"]
    if not folder.is_dir():
        raise ISLAError(f"dataset.json names unlabeled images in {folder}, which does not exist: add the "
                        f'images or remove the "{UNLABELED_KEY}" key')
    return folder


def unlabeled_cases(raw_folder: str | os.PathLike, dataset_json: dict) -> dict[str, list[Path]]:
    """Unlabeled case id -> its image files, one per channel of ``dataset_json["channel_names"]``.

    Returns an empty dict when dataset.json has no ``"unlabeled"`` key.

    Raises:
        ISLAError: a case lacks a channel, the count differs from ``numUnlabeled``, or an id is also
            a labeled training case.
    """
    folder = unlabeled_folder(raw_folder, dataset_json)
    if folder is None:
        return {}
    ending = dataset_json.get("file_ending", ".nii.gz")
    n_channels = len(dataset_json["channel_names"])
    suffix = f"_0000{ending}"
    ids = sorted(p.name[: -len(suffix)] for p in folder.glob(f"*{suffix}"))
    cases = {}
    for case_id in ids:
        files = [folder / f"{case_id}_{c:04d}{ending}" for c in range(n_channels)]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise ISLAError(f"unlabeled case {case_id} in {folder} lacks {', '.join(missing)}: every case "
                            f"needs all {n_channels} channels")
        cases[case_id] = files
    expected = dataset_json[UNLABELED_KEY].get("numUnlabeled")
    if expected is not None and int(expected) != len(cases):
        raise ISLAError(f'dataset.json says numUnlabeled={expected} but {folder} holds {len(cases)} cases: '
                        "fix the count or the folder")
    labeled = {p.name[: -len(suffix)] for p in (Path(raw_folder) / "imagesTr").glob(f"*{suffix}")}
    clashes = sorted(labeled & cases.keys())
    if clashes:
        raise ISLAError(f"unlabeled case ids {clashes[:3]} are also labeled training cases: give unlabeled "
                        "images their own ids")
    return cases


def preprocessed_unlabeled_folder(preprocessed_dataset_folder: str | os.PathLike) -> Path:
    """``.../ISLAPlans_3d_fullres`` -> ``.../ISLAPlans_3d_fullres_unlabeled``, beside nnU-Net's cases."""
    folder = Path(preprocessed_dataset_folder)
    return folder.with_name(folder.name + UNLABELED_SUFFIX)


@functools.cache
def unlabeled_preprocessor_class(preprocessor_class: type) -> type:
    """A subclass of an nnU-Net preprocessor whose cases without segmentation can be loaded for training.

    nnU-Net's data loader reads ``properties["class_locations"]``, which its preprocessors write only
    for cases with a segmentation; an unlabeled case has no foreground to locate.
    """

    def run_case_npy(self, data, seg, properties, plans_manager, configuration_manager, dataset_json):
        data, seg, properties = preprocessor_class.run_case_npy(self, data, seg, properties, plans_manager,
                                                                configuration_manager, dataset_json)
        properties.setdefault("class_locations", {})
        return data, seg, properties

    name = f"Unlabeled{preprocessor_class.__name__}"
    return type(name, (preprocessor_class,), {"run_case_npy": run_case_npy})


def _stored_cases(folder: Path) -> set[str]:
    return {p.name[: -len(".pkl")] for p in folder.glob("*.pkl")} if folder.is_dir() else set()


def preprocess_unlabeled(raw_folder: str | os.PathLike, preprocessed_dataset_folder: str | os.PathLike,
                         plans: dict | str | os.PathLike, configuration: str,
                         dataset_json: dict | None = None, verbose: bool = False) -> Path | None:
    """Preprocess the dataset's unlabeled images with ``plans`` unless already done; return their folder.

    Args:
        raw_folder: nnU-Net raw dataset folder (holding dataset.json).
        preprocessed_dataset_folder: nnU-Net's preprocessed folder of ``configuration`` (e.g.
            ``.../DatasetXXX/ISLAPlans_3d_fullres``); the result goes beside it (see
            :func:`preprocessed_unlabeled_folder`).
        plans: the plans dict or the path of the plans file.
        configuration: plans configuration, e.g. ``"3d_fullres"``.
        dataset_json: the dataset.json contents (read from ``raw_folder`` when omitted).

    Returns:
        The folder of preprocessed unlabeled cases, or ``None`` if the dataset has none. The folder
        is rebuilt in a temporary location and renamed when it lacks any case.
    """
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    raw_folder = Path(raw_folder)
    if dataset_json is None:
        dataset_json = json.loads((raw_folder / "dataset.json").read_text())
    cases = unlabeled_cases(raw_folder, dataset_json)
    if not cases:
        return None
    target = preprocessed_unlabeled_folder(preprocessed_dataset_folder)
    if _stored_cases(target) == set(cases):
        return target
    if not isinstance(plans, dict):
        plans = json.loads(Path(plans).read_text())
    plans_manager = PlansManager(plans)
    configuration_manager = plans_manager.get_configuration(configuration)
    preprocessor = unlabeled_preprocessor_class(configuration_manager.preprocessor_class)(verbose=verbose)
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    staging.mkdir(parents=True)
    try:
        for case_id, files in cases.items():
            preprocessor.run_case_save(str(staging / case_id), [str(f) for f in files], None, plans_manager,
                                       configuration_manager, dataset_json)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target
