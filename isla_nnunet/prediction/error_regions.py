"""Where a prediction's errors lie: false-positive and missed volume in the posterior fossa and elsewhere.

Each native voxel's centre is taken to template (MNI152) coordinates by the case's rigid registration
(``transform.json`` beside ``isla predict``'s mask; the reference grid lies in MNI152 coordinates) and
counts as posterior fossa (cerebellum, brainstem) where
:func:`~isla_nnunet.simulation.anatomy.posterior_fossa_weight` is at least 0.5. Volumes are the native
grid's own. The split says whether a model's false positives are the bright cerebellum and brainstem of
b1000 scans or lie in the cerebrum.

Example:
    >>> import numpy as np, SimpleITK as sitk
    >>> from isla_nnunet.preprocessing.registration import Registration
    >>> grid = sitk.Image(80, 100, 60, sitk.sitkUInt8)
    >>> grid.SetSpacing((2.0, 2.0, 2.0)); grid.SetOrigin((-80.0, -90.0, -60.0))
    >>> registration = Registration(sitk.Euler3DTransform(), grid)   # native = template, LPS mm
    >>> cerebellum = np.zeros((60, 100, 80), np.uint8); cerebellum[12, 75, 40] = 1   # RAS (0, -60, -36)
    >>> found = errors_by_region(cerebellum, np.zeros_like(cerebellum), registration)
    >>> found["fp_posterior_fossa_ml"], found["fp_elsewhere_ml"]
    (0.008, 0.0)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from isla_nnunet.errors import ISLAError
from isla_nnunet.io.geometry import ras_affine
from isla_nnunet.io.masks import affine_parts
from isla_nnunet.preprocessing.registration import Registration
from isla_nnunet.simulation.anatomy import posterior_fossa_weight

_RAS_FROM_LPS = np.diag([-1.0, -1.0, 1.0])


def voxel_to_template(registration: Registration) -> np.ndarray:
    """4x4 map from native voxel indices (x, y, z) to template (MNI152, RAS) mm.

    The transform maps template points onto native ones (LPS), so its inverse follows the voxel's
    native position.
    """
    matrix, offset = affine_parts(registration.transform.GetInverse())
    template_from_native = np.eye(4)
    template_from_native[:3, :3] = _RAS_FROM_LPS @ matrix @ _RAS_FROM_LPS
    template_from_native[:3, 3] = _RAS_FROM_LPS @ offset
    return template_from_native @ ras_affine(registration.native_grid)


def errors_by_region(prediction: np.ndarray, truth: np.ndarray, registration: Registration) -> dict[str, float]:
    """False-positive and missed volume (ml) in the posterior fossa and elsewhere.

    Args:
        prediction, truth: native-grid masks in (z, y, x) order, as SimpleITK reads the DWI's grid.
        registration: the case's registration (:meth:`Registration.load` of ``transform.json``).

    Returns:
        ``fp_posterior_fossa_ml``, ``fp_elsewhere_ml``, ``fn_posterior_fossa_ml``, ``fn_elsewhere_ml``
        (rounded to 0.001 ml).

    Raises:
        ISLAError: the masks are not on the registration's native grid.
    """
    expected = tuple(reversed(registration.native_grid.GetSize()))
    for name, mask in (("prediction", prediction), ("truth", truth)):
        if np.shape(mask) != expected:
            raise ISLAError(f"{name} mask of shape {np.shape(mask)} is not on the case's native grid {expected} "
                            "(z, y, x): pass the masks isla predict and the expert drew on the DWI's grid")
    voxel_ml = float(np.prod(registration.native_grid.GetSpacing())) / 1000.0
    predicted, true = np.asarray(prediction) > 0, np.asarray(truth) > 0
    fossa = posterior_fossa_weight(registration.native_grid.GetSize(), voxel_to_template(registration)).T >= 0.5
    out = {}
    for kind, errors in (("fp", predicted & ~true), ("fn", true & ~predicted)):
        in_fossa = int(np.count_nonzero(errors & fossa))
        out[f"{kind}_posterior_fossa_ml"] = round(in_fossa * voxel_ml, 3)
        out[f"{kind}_elsewhere_ml"] = round((int(errors.sum()) - in_fossa) * voxel_ml, 3)
    return out


def errors_by_region_files(prediction_folder, truth_file) -> dict[str, float]:
    """:func:`errors_by_region` of an ``isla predict`` output folder (its mask and ``transform.json``)."""
    folder = Path(prediction_folder)
    registration = Registration.load(folder / "transform.json")
    prediction = sitk.GetArrayFromImage(sitk.ReadImage(str(folder / "lesion_mask.nii.gz")))
    # Read as isla evaluate reads it (voxel for voxel), so that the split adds up to its precision and recall.
    truth = sitk.GetArrayFromImage(sitk.ReadImage(str(truth_file)))
    if truth.ndim == 4 and truth.shape[0] == 1:
        truth = truth[0]
    if truth.ndim != 3:
        raise ISLAError(f"truth mask {truth_file} has {truth.ndim} dimensions; pass a 3-D mask")
    return errors_by_region(prediction, truth, registration)
