import json

import nibabel as nib
import numpy as np
import pytest

from isla_nnunet import reference
from isla_nnunet.errors import ISLAError
from isla_nnunet.networks.presets import DEFAULT_FEATURES, isla_arch_kwargs
from isla_nnunet.networks.unet import ISLAUNet
from isla_nnunet.nnunet import isla_plans, planning


@pytest.mark.parametrize(("elements", "target_gb", "expected"), [
    # budget = 560e6 * target / 8 elements for nnU-Net's batch of 2
    (280_000_000, 40.0, 8),   # fits 2 * 5 * 2 = 20 samples: capped at ISLA's 8
    (280_000_000, 8.0, 4),    # 560e6 / 280e6 * 2 = 4
    (280_000_000, 6.0, 3),    # 420e6 / 280e6 * 2 = 3
    (280_000_000, 1.0, 2),    # never below 2 (nnU-Net's minimum)
])
def test_batch_size_follows_nnunet_memory_rule(elements, target_gb, expected):
    assert isla_plans.batch_size_for(elements, target_gb) == expected


def test_default_network_gets_islas_batch_of_eight_at_the_default_target():
    arch = isla_arch_kwargs(DEFAULT_FEATURES)
    kwargs = {k: v for k, v in arch["arch_kwargs"].items() if k not in arch["_kw_requires_import"]}
    elements = ISLAUNet(2, 2, **kwargs).compute_conv_feature_map_size(reference.SHAPE_ZYX)
    assert isla_plans.batch_size_for(elements, isla_plans.DEFAULT_GPU_MEMORY_TARGET_GB) == 8


def _write(path, array, spacing_xyz=reference.SPACING_XYZ):
    affine = np.diag([*spacing_xyz, 1.0])
    nib.save(nib.Nifti1Image(array, affine), str(path))


def _raw_dataset(root, *, labels=None, image_shape=reference.SHAPE_XYZ, spacing=reference.SPACING_XYZ,
                 label_value=1, nan=False):
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    (root / "dataset.json").write_text(json.dumps({
        "channel_names": {"0": "DWI", "1": "ADC"}, "labels": labels or {"background": 0, "lesion": 1},
        "numTraining": 1, "file_ending": ".nii.gz"}))
    image = np.zeros(image_shape, np.float32)
    if nan:
        image[3, 3, 3] = np.nan
    for channel in (0, 1):
        _write(root / "imagesTr" / f"case_0000_000{channel}.nii.gz", image, spacing)
    mask = np.zeros(image_shape, np.uint8)
    mask[10:12, 10:12, 5] = label_value
    _write(root / "labelsTr" / "case_0000.nii.gz", mask, spacing)
    return root


def test_a_dataset_on_the_reference_grid_passes(tmp_path):
    planning.check_raw_dataset(_raw_dataset(tmp_path / "ok"))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"image_shape": (96, 112, 32)}, "not ISLA's reference grid.*isla convert"),
    ({"spacing": (1.0, 1.0, 6.0)}, "not ISLA's reference grid"),
    ({"labels": {"background": 0, "core": 1, "penumbra": 2}}, "one lesion class"),
    ({"label_value": 2}, "binarise"),
    ({"nan": True}, "NaN"),
])
def test_bad_datasets_get_one_line_errors(tmp_path, kwargs, message):
    folder = _raw_dataset(tmp_path / "bad", **kwargs)
    with pytest.raises(ISLAError, match=message) as err:
        planning.check_raw_dataset(folder)
    assert "\n" not in str(err.value)


def test_missing_dataset_json_and_empty_dataset(tmp_path):
    with pytest.raises(ISLAError, match="dataset.json"):
        planning.check_raw_dataset(tmp_path)
    folder = _raw_dataset(tmp_path / "empty")
    for path in [*(folder / "imagesTr").iterdir(), *(folder / "labelsTr").iterdir()]:
        path.unlink()
    with pytest.raises(ISLAError, match="no training images"):
        planning.check_raw_dataset(folder)


@pytest.mark.slow
def test_isla_plans_keep_the_keys_of_nnunets_own_plans(tiny_workspace):
    # ISLAPlanner writes its plans dict itself (nnU-Net 2.8.1's plan_experiment would add 2d and lowres
    # configurations). nnU-Net's own planner on the same dataset shows the keys the installed nnU-Net
    # writes, so a change of its plans layout fails here instead of in a user's training run.
    from isla_nnunet.nnunet import commands as nnunet_cli

    # nnU-Net's planner calls torch.set_num_threads(nnUNet_n_proc_DA), which refuses the 0 used here.
    nnunet_cli.run(("nnUNetv2_plan_experiment", "-d", tiny_workspace.dataset_id, "-overwrite_plans_name",
                    "StockKeysCheck"), {**tiny_workspace.env, "nnUNet_n_proc_DA": "1"},
                   tiny_workspace.root / "commands.log")
    stock = json.loads((tiny_workspace.preprocessed / "StockKeysCheck.json").read_text())
    isla = json.loads((tiny_workspace.preprocessed / "ISLAPlans.json").read_text())
    assert set(isla) == set(stock)
    assert set(isla["configurations"]["3d_fullres"]) == set(stock["configurations"]["3d_fullres"])
