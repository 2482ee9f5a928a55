"""The nnU-Net raw dataset folder written by ``isla convert`` and its ``dataset.json``.

Layout (``DatasetNNN_Name`` inside ``nnUNet_raw``)::

    imagesTr/CASE_0000.nii.gz  CASE_0001.nii.gz   labeled training cases (0000 = DWI, 0001 = ADC)
    labelsTr/CASE.nii.gz                           lesion masks (0 background, 1 lesion)
    imagesTs/CASE_0000.nii.gz  CASE_0001.nii.gz    test cases
    imagesUnlabeledTr/CASE_0000.nii.gz ...         target-domain images without labels (project layout)
    transforms/CASE.json                           per-case registration (maps back to native space)
    qc/CASE.png                                    registration picture
    conversion_summary.json                        last run: per-case status, QC score, errors
    dataset.json

``dataset.json`` is rebuilt from what is on disk after every run, so successive runs (e.g. one labeled
source dataset, then an unlabeled target dataset into the same folder) add up. nnU-Net reads the keys it
knows and ignores ``unlabeled`` and ``isla``.

A dataset is on one of two grids (``isla.grid`` in ``dataset.json``): ``reference`` (ISLA's reference
grid, every case registered to it) or ``native`` (``isla convert --grid native``: each case on its own
DWI grid, brain-masked, for methods planned at a dataset's own spacing such as Clèrigues et al.'s; no
registration, so no QC picture, and ``transforms/CASE.json`` only records the case). A folder never
mixes the two.

Example:
    >>> folder = DatasetFolder("nnUNet_raw/Dataset101_ISLES22")  # doctest: +SKIP
    >>> folder.write_dataset_json()  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from isla_nnunet import reference
from isla_nnunet.errors import ISLAError
from isla_nnunet.io.atomic import atomic_output
from isla_nnunet.io.units import CANONICAL_ADC_UNIT
from isla_nnunet.nnunet.layout import CHANNEL_NAMES, FILE_ENDING, LABELS, UNLABELED_FOLDER

IMAGE_FOLDERS = {"train": "imagesTr", "test": "imagesTs", "unlabeled": UNLABELED_FOLDER}
LABEL_FOLDER = "labelsTr"
TRANSFORM_FOLDER = "transforms"
QC_FOLDER = "qc"
SUMMARY_FILE = "conversion_summary.json"
GRIDS = ("reference", "native")
_DATASET_NAME = re.compile(r"Dataset\d{3}_[A-Za-z0-9_.-]+")


class DatasetFolder:
    """Paths inside one nnU-Net raw dataset folder.

    Raises:
        ISLAError: the folder name is not ``DatasetNNN_Name`` (nnU-Net would not find it), an unknown
            grid, or a folder whose ``dataset.json`` holds cases on the other grid.
    """

    def __init__(self, path: str | os.PathLike, grid: str = "reference"):
        self.path = Path(path)
        if not _DATASET_NAME.fullmatch(self.path.name):
            raise ISLAError(
                f"output folder {self.path.name!r} is not named DatasetNNN_Name (e.g. Dataset101_ISLES22): "
                "nnU-Net only finds folders named so"
            )
        if grid not in GRIDS:
            raise ISLAError(f"grid {grid!r} unknown: use {' or '.join(GRIDS)}")
        self.grid = grid
        existing = self.path / "dataset.json"
        if existing.is_file():
            try:
                written = json.loads(existing.read_text(encoding="utf-8")).get("isla", {}).get("grid", "reference")
            except (OSError, ValueError, AttributeError):
                written = grid  # not ours to judge: it is rewritten from the files after the run
            if written != grid:
                raise ISLAError(f"{self.path} holds cases on the {written} grid: convert {grid}-grid cases into "
                                "another DatasetNNN_Name folder")

    @property
    def name(self) -> str:
        return self.path.name

    def image_paths(self, case_id: str, role: str) -> list[Path]:
        """The DWI and ADC files of a case with ``role``."""
        folder = self.path / IMAGE_FOLDERS[role]
        return [folder / f"{case_id}_{int(channel):04d}{FILE_ENDING}" for channel in CHANNEL_NAMES]

    def label_path(self, case_id: str) -> Path:
        return self.path / LABEL_FOLDER / f"{case_id}{FILE_ENDING}"

    def transform_path(self, case_id: str) -> Path:
        return self.path / TRANSFORM_FOLDER / f"{case_id}.json"

    def qc_path(self, case_id: str) -> Path:
        return self.path / QC_FOLDER / f"{case_id}.png"

    def outputs(self, case_id: str, role: str) -> list[Path]:
        """Every file a finished case has; the transform comes last because it is written last."""
        files = self.image_paths(case_id, role)
        if role == "train":
            files.append(self.label_path(case_id))
        if self.grid == "reference":
            files.append(self.qc_path(case_id))
        return [*files, self.transform_path(case_id)]

    def is_done(self, case_id: str, role: str) -> bool:
        """True when a previous run finished this case (all its outputs exist)."""
        return all(path.is_file() for path in self.outputs(case_id, role))

    def _cases_in(self, folder_name: str) -> list[str]:
        folder = self.path / folder_name
        suffix = f"_0000{FILE_ENDING}"
        if not folder.is_dir():
            return []
        return sorted(p.name[: -len(suffix)] for p in folder.iterdir() if p.name.endswith(suffix))

    def dataset_json(self) -> dict:
        """``dataset.json`` content for what is on disk now."""
        training = [c for c in self._cases_in(IMAGE_FOLDERS["train"]) if self.label_path(c).is_file()]
        unlabeled = self._cases_in(IMAGE_FOLDERS["unlabeled"])
        description = ("DWI + ADC rigidly registered to the ISLA reference grid by isla convert"
                       if self.grid == "reference" else
                       "DWI + ADC on each case's own DWI grid, brain-masked, by isla convert --grid native")
        content = {
            "name": self.name.split("_", 1)[1],
            "description": description,
            "channel_names": dict(CHANNEL_NAMES),
            "labels": dict(LABELS),
            "numTraining": len(training),
            "file_ending": FILE_ENDING,
        }
        if unlabeled:
            content["unlabeled"] = {"folder": IMAGE_FOLDERS["unlabeled"], "numUnlabeled": len(unlabeled)}
        content["isla"] = {
            "grid": self.grid,
            "adc_unit_mm2_per_s": CANONICAL_ADC_UNIT,
            "transforms_folder": TRANSFORM_FOLDER,
            "numTest": len(self._cases_in(IMAGE_FOLDERS["test"])),
        }
        if self.grid == "reference":
            content["isla"]["reference_grid"] = {
                "shape_xyz": list(reference.SHAPE_XYZ),
                "spacing_xyz": list(reference.SPACING_XYZ),
                "orientation": reference.ORIENTATION,
                "affine_ras": reference.affine().tolist(),
            }
            content["isla"]["qc_folder"] = QC_FOLDER
        return content

    def write_dataset_json(self) -> Path:
        """(Re)write ``dataset.json`` atomically from the folder's contents."""
        return self.write_json("dataset.json", self.dataset_json())

    def write_json(self, name: str, content: dict) -> Path:
        path = self.path / name
        with atomic_output(path) as tmp:
            tmp.write_text(json.dumps(content, indent=2), encoding="utf-8")
        return path
