"""``isla plan``: fingerprint, ISLA plans and nnU-Net preprocessing for a dataset on the reference grid.

nnU-Net looks up experiment planners only inside its own package, so this module runs the three
steps of ``nnUNetv2_plan_and_preprocess`` through nnU-Net's API with the ISLA planner
(:mod:`isla_nnunet.nnunet.isla_planner`) and writes plans named ``ISLAPlans``.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path

import nibabel as nib
import numpy as np

from isla_nnunet import reference
from isla_nnunet.errors import ISLAError
from isla_nnunet.networks.presets import DEFAULT_FEATURES
from isla_nnunet.nnunet import environment as nnunet_env
from isla_nnunet.nnunet.isla_plans import CONFIGURATION, DEFAULT_GPU_MEMORY_TARGET_GB, PLANS_NAME
from isla_nnunet.nnunet.layout import LABELS


def raw_dataset_folder(dataset_id: int) -> Path:
    from nnunetv2.utilities.dataset_name_id_conversion import maybe_convert_to_dataset_name

    raw = nnunet_env.require("nnUNet_raw")["nnUNet_raw"]
    try:
        name = maybe_convert_to_dataset_name(dataset_id)
    except RuntimeError:
        raise ISLAError(f"no dataset with id {dataset_id} in nnUNet_raw={raw}: create it with `isla convert` "
                        "or `isla simulate`") from None
    return raw / name


def check_raw_dataset(folder: Path) -> None:
    """Raise a one-line :class:`ISLAError` unless the raw dataset can be planned with ISLA's layout.

    Checks dataset.json (two labels, background 0 and lesion 1), that every training image and label
    lies on the reference grid, that labels are 0/1 and that images hold no NaN; unlabeled images
    named in dataset.json ``"unlabeled"`` (for Mean Teacher) get the same image checks.
    """
    from isla_nnunet.training.unlabeled import unlabeled_cases

    try:
        dataset_json = json.loads((folder / "dataset.json").read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ISLAError(f"cannot read {folder / 'dataset.json'} ({err}): "
                        "write a valid nnU-Net dataset.json") from None
    labels = dataset_json.get("labels", {})
    if {k: int(v) for k, v in labels.items() if not isinstance(v, list)} != LABELS:
        raise ISLAError(f"dataset.json labels are {labels}; ISLA segments one lesion class: use "
                        f"{LABELS} and labels with values 0/1 only")
    ending = dataset_json.get("file_ending", ".nii.gz")
    files = [*sorted((folder / "imagesTr").glob(f"*{ending}")), *sorted((folder / "labelsTr").glob(f"*{ending}"))]
    if not files:
        raise ISLAError(f"no training images in {folder / 'imagesTr'}: convert cases first with `isla convert`")
    files += [f for case_files in unlabeled_cases(folder, dataset_json).values() for f in case_files]
    for path in files:
        # nibabel, not SimpleITK: SimpleITK's NIfTI reader turns NaN voxels into 0 without a word.
        image = nib.load(str(path))
        shape_zyx = image.shape[::-1]
        spacing_zyx = tuple(float(s) for s in image.header.get_zooms()[:3])[::-1]
        if len(shape_zyx) != 3 or not reference.is_reference_grid(shape_zyx, spacing_zyx):
            raise ISLAError(
                f"{path.name} is {'x'.join(map(str, image.shape))} voxels at "
                f"{'x'.join(f'{s:g}' for s in image.header.get_zooms())} mm, not ISLA's reference grid "
                f"{'x'.join(map(str, reference.SHAPE_XYZ))} at {'x'.join(map(str, reference.SPACING_XYZ))} mm: "
                "convert the native scans with `isla convert`")
        array = np.asanyarray(image.dataobj)
        if path.parent.name == "labelsTr":
            values = np.unique(array)
            if not set(values.tolist()) <= {0, 1}:
                raise ISLAError(f"{path.name} has label values {values.tolist()[:8]}; ISLA needs 0 (background) "
                                "and 1 (lesion): binarise the mask")
        elif not np.isfinite(array).all():
            raise ISLAError(f"{path.name} contains NaN or infinite values: fix or re-convert the image")


@contextmanager
def planning_threads():
    # nnU-Net's planner calls torch.set_num_threads(nnUNet_n_proc_DA), which fails for the 0 used in training.
    current = os.environ.get("nnUNet_n_proc_DA")
    with nnunet_env.environment({"nnUNet_n_proc_DA": "1"} if current in (None, "", "0") else {}):
        yield


def plan_and_preprocess(dataset_id: int, features_per_stage=DEFAULT_FEATURES,
                        gpu_memory_target_gb: float = DEFAULT_GPU_MEMORY_TARGET_GB, num_processes: int = 2,
                        verbose: bool = False, batch_size: int | None = None) -> Path:
    """Fingerprint, plan (ISLAPlans, 3d_fullres only) and preprocess ``dataset_id``; return the plans file.

    ``batch_size`` fixes the batch (e.g. 2 for CPU training); by default the GPU memory target decides.
    """
    from nnunetv2.experiment_planning.plan_and_preprocess_api import (
        extract_fingerprint_dataset,
        plan_experiment_dataset,
        preprocess_dataset,
    )

    from isla_nnunet.nnunet.isla_planner import ISLAPlanner

    nnunet_env.require("nnUNet_raw", "nnUNet_preprocessed")
    check_raw_dataset(raw_dataset_folder(dataset_id))
    features = tuple(int(f) for f in features_per_stage)
    if any(f % 8 for f in features):
        raise ISLAError(f"filters per level {features} must be multiples of 8 (GroupNorm with 8 groups)")
    if batch_size is not None and batch_size < 1:
        raise ISLAError(f"batch size must be >= 1, got {batch_size}")
    with planning_threads():
        extract_fingerprint_dataset(dataset_id, num_processes=num_processes, check_dataset_integrity=True,
                                    clean=True, verbose=verbose)
        planner = _configured_planner(ISLAPlanner, features, batch_size)
        _, plans_name = plan_experiment_dataset(dataset_id, planner, gpu_memory_target_gb,
                                                overwrite_plans_name=PLANS_NAME)
    preprocess_dataset(dataset_id, plans_name, configurations=(CONFIGURATION,), num_processes=(num_processes,),
                       verbose=verbose)
    preprocessed = nnunet_env.require("nnUNet_preprocessed")["nnUNet_preprocessed"]
    plans_file = preprocessed / raw_dataset_folder(dataset_id).name / f"{plans_name}.json"
    _preprocess_unlabeled(raw_dataset_folder(dataset_id), plans_file, verbose)
    return plans_file


def _preprocess_unlabeled(raw_folder: Path, plans_file: Path, verbose: bool) -> None:
    """Mean Teacher's unlabeled images, preprocessed with the same plans beside nnU-Net's cases."""
    from isla_nnunet.training.unlabeled import preprocess_unlabeled

    plans = json.loads(plans_file.read_text())
    data_identifier = plans["configurations"][CONFIGURATION]["data_identifier"]
    preprocess_unlabeled(raw_folder, plans_file.parent / data_identifier, plans, CONFIGURATION,
                         verbose=verbose)


def _configured_planner(planner_class, features: tuple[int, ...], batch_size: int | None = None):
    """A planner subclass carrying the chosen filters and batch (nnU-Net's API instantiates the class itself)."""
    if features == tuple(planner_class.features_per_stage) and batch_size is None:
        return planner_class
    return type(planner_class.__name__, (planner_class,), {"features_per_stage": features, "batch_size": batch_size})
