"""Symmetric modality augmentation of Clèrigues et al. (2019), §3.1 and Figure 1.

Each modality gets a mirror image with the hemispheres swapped, appended as an extra channel, so that a
small patch also sees the same place in the other hemisphere: one modality (the first, DWI) is flipped
left-right and rigidly registered back onto itself (the paper used FSL FLIRT; here SimpleITK's Mattes
mutual information, :func:`~isla_nnunet.preprocessing.registration.rigid_register`), and every
modality's flip is resampled with that one transform. The flip is of the voxel array along the index
axis closest to the patient's left-right axis, so it mirrors about the plane through the image's
centre; the registration then moves that plane onto the brain's own midline, however the head lay in
the scanner. The metric is Mattes mutual information over every brain voxel, at half and full
resolution: on a symmetric head tilted by 6 degrees it finds the 12 degrees that lay the mirror back
(12.05), and a bright one-sided lesion turns it by about 1 degree, where the correlation metric was
pulled 10 degrees towards overlapping the lesion with its mirror (tests/preprocessing/test_symmetry.py).

Example:
    >>> import SimpleITK as sitk
    >>> image = sitk.Image([30, 20, 10], sitk.sitkFloat32)
    >>> image.SetDirection([0, 1, 0, 1, 0, 0, 0, 0, 1])      # index axis 1 runs left-right
    >>> left_right_axis(image)
    1
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.nnunet.layout import SYMMETRIC_SUFFIX as SUFFIX
from isla_nnunet.preprocessing.registration import as_euler


def left_right_axis(image: sitk.Image) -> int:
    """The index axis whose direction lies closest to the physical x (patient left-right) axis."""
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    return int(np.argmax(np.abs(direction[0])))


def mirror_voxels(image: sitk.Image) -> sitk.Image:
    """The voxel array reversed along the left-right index axis, on the same grid (float32).

    ``sitk.Flip`` would not do: it also negates the axis's direction, so the physical image stays the same.
    """
    array = sitk.GetArrayFromImage(sitk.Cast(image, sitk.sitkFloat32))
    out = sitk.GetImageFromArray(np.ascontiguousarray(np.flip(array, axis=2 - left_right_axis(image))))
    out.CopyInformation(image)
    return out


def register_mirror(image: sitk.Image, mirror: sitk.Image) -> sitk.Euler3DTransform:
    """The rigid transform from ``image``'s points to the same anatomy in its ``mirror`` (module docs).

    Raises:
        ISLAError: the optimisation fails (e.g. an empty image).
    """
    fixed = sitk.Cast(image, sitk.sitkFloat32)
    start = sitk.CenteredTransformInitializer(fixed, mirror, sitk.Euler3DTransform(),
                                              sitk.CenteredTransformInitializerFilter.GEOMETRY)
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(32)
    method.SetMetricSamplingStrategy(method.NONE)
    method.SetMetricFixedMask(sitk.Cast(fixed != 0, sitk.sitkUInt8))
    method.SetInterpolator(sitk.sitkLinear)
    # A slowly shrinking step: random sampling and quick halving stopped 5-10 degrees short of the answer.
    method.SetOptimizerAsRegularStepGradientDescent(learningRate=2.0, minStep=1e-4, numberOfIterations=300,
                                                    relaxationFactor=0.7, gradientMagnitudeTolerance=1e-10)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel([2, 1])
    method.SetSmoothingSigmasPerLevel([2.0, 0.0])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    method.SetInitialTransform(start, inPlace=False)
    try:
        result = method.Execute(fixed, mirror)
    except RuntimeError as err:
        raise ISLAError(f"registering the mirror image failed ({str(err).strip().splitlines()[-1][:160]}): "
                        "check that the image shows a brain") from None
    return as_euler(result, start.GetCenter())


def symmetric_versions(images: Sequence[sitk.Image]) -> tuple[list[sitk.Image], sitk.Euler3DTransform]:
    """Every image mirrored left-right and registered onto the first image's anatomy (module docs).

    Args:
        images: 3-D images on one grid (DWI first: its mirror is the one registered).

    Returns:
        The mirrored images on the first image's grid (float32, 0 outside the mirrored field of view) and
        the transform from the first image's points to its flipped copy's.

    Raises:
        ISLAError: no image, images on different grids or not 3-D, a registration that fails.
    """
    if not images:
        raise ISLAError("no image to mirror")
    first = images[0]
    for image in images:
        if image.GetDimension() != 3:
            raise ISLAError(f"symmetric channels need 3-D images, got {image.GetDimension()}-D")
        if image.GetSize() != first.GetSize() or not np.allclose(image.GetSpacing(), first.GetSpacing()) or \
                not np.allclose(image.GetOrigin(), first.GetOrigin(), atol=1e-3):
            raise ISLAError("the modalities lie on different grids: resample them onto the DWI first")
    flipped = [mirror_voxels(image) for image in images]
    transform = register_mirror(first, flipped[0])
    mirrored = [sitk.Resample(image, first, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32) for image in flipped]
    return mirrored, transform


def add_symmetric_channels(folder: Path, n_channels: int | None = None) -> list[str]:
    """Write the mirrored channels of every case of an nnU-Net images folder; return the cases done.

    ``CASE_0000 .. CASE_{n-1}`` gain ``CASE_{n} .. CASE_{2n-1}``, channel ``n + k`` being the mirror of
    channel ``k``. ``n_channels`` defaults to the ``channel_names`` of a ``dataset.json`` in the folder's
    parent, which is then updated (names with ``_sym``); otherwise every case must have the same number of
    channels. Cases that already have all mirrored channels are skipped, each file is written under a
    temporary name and renamed, so an interrupted run can be repeated.

    Raises:
        ISLAError: no images, cases with different channel counts, a registration that fails.
    """
    import json

    folder = Path(folder)
    dataset_json = folder.parent / "dataset.json"
    meta = json.loads(dataset_json.read_text()) if dataset_json.is_file() else None
    ending = (meta or {}).get("file_ending", ".nii.gz")
    cases: dict[str, list[Path]] = {}
    for path in sorted(folder.glob(f"*_[0-9][0-9][0-9][0-9]{ending}")):
        cases.setdefault(path.name[:-len(ending) - 5], []).append(path)
    if not cases:
        raise ISLAError(f"no nnU-Net images (CASE_0000{ending}) in {folder}")
    names = (meta or {}).get("channel_names")
    if n_channels is None:
        # the original channels: those not named as mirrors, else what the first case has
        n_channels = (sum(not str(v).endswith(SUFFIX) for v in names.values()) if names
                      else len(next(iter(cases.values()))))
    done = []
    for case in cases:
        channels = [folder / f"{case}_{k:04d}{ending}" for k in range(2 * n_channels)]
        if all(p.is_file() for p in channels):
            continue
        if not all(p.is_file() for p in channels[:n_channels]):
            raise ISLAError(f"case {case} in {folder} lacks some of its {n_channels} channels")
        mirrored, _ = symmetric_versions([sitk.ReadImage(str(p)) for p in channels[:n_channels]])
        for image, target in zip(mirrored, channels[n_channels:], strict=True):
            tmp = target.with_name(f".{target.name}")
            sitk.WriteImage(image, str(tmp), useCompression=True)
            os.replace(tmp, target)
        done.append(case)
    if names is not None and len(names) == n_channels:
        meta["channel_names"] = {**names, **{str(n_channels + int(k)): f"{v}{SUFFIX}" for k, v in names.items()}}
        tmp = dataset_json.with_name(".dataset.json.tmp")
        tmp.write_text(json.dumps(meta, indent=2) + "\n")
        os.replace(tmp, dataset_json)
    return done
