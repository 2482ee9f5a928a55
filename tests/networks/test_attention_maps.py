"""``isla attention-maps`` and its library functions on a hand-made trained-model folder (tiny ISLA-B)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from isla_nnunet import reference
from isla_nnunet.attention_maps import export_attention_maps, maps_on_grid, write_attention_maps
from isla_nnunet.cli import main
from isla_nnunet.errors import ISLAError
from isla_nnunet.networks.attention import AttentionMap, capture_attention_maps
from isla_nnunet.networks.cpu_execution import CPUExecution
from isla_nnunet.training.variants import TRAINERS

from .plans import dataset_json, environ_with_trainers, isla_plans, managers
from .reference_ops import linear_resize

FEATURES = (8,) * 6
BOX = (slice(3, 29), slice(20, 200), slice(16, 170))   # the "brain": non-zero voxels, (z, y, x)
DIRECTION = (-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
ORIGIN = (86.0, -120.0, -90.0)


@pytest.fixture(autouse=True)
def _trainers_on_path(monkeypatch):
    monkeypatch.setenv("nnUNet_extTrainer", environ_with_trainers()["nnUNet_extTrainer"])


def make_model_folder(root, trainer_name: str, seed: int = 0):
    """A model folder as nnUNetv2_train leaves it: plans.json, dataset.json, fold_0/checkpoint_final.pth."""
    folder = root / f"{trainer_name}__ISLAPlans__3d_fullres"
    (folder / "fold_0").mkdir(parents=True)
    (folder / "plans.json").write_text(json.dumps(isla_plans(FEATURES)))
    (folder / "dataset.json").write_text(json.dumps(dataset_json()))
    torch.manual_seed(seed)
    # float32, as isla attention-maps computes (the build would follow ISLA_CPU_PRECISION).
    network = CPUExecution.from_setting("fp32").apply(
        TRAINERS[trainer_name].build_network_architecture(*managers(FEATURES), 2, 2, True))
    torch.save({"network_weights": network.state_dict(), "trainer_name": trainer_name,
                "init_args": {"configuration": "3d_fullres"}, "inference_allowed_mirroring_axes": (2,)},
               folder / "fold_0" / "checkpoint_final.pth")
    return folder, network


def write_case(folder, shape_zyx=reference.SHAPE_ZYX, seed: int = 1):
    rng = np.random.default_rng(seed)
    paths = []
    for channel, (mean, std) in enumerate([(300.0, 60.0), (800.0, 150.0)]):
        array = np.zeros(shape_zyx, dtype=np.float32)
        array[BOX] = rng.normal(mean, std, array[BOX].shape).clip(1.0)
        image = sitk.GetImageFromArray(array)
        image.SetSpacing(reference.SPACING_XYZ)
        image.SetOrigin(ORIGIN)
        image.SetDirection(DIRECTION)
        path = folder / f"case7_{channel:04d}.nii.gz"
        sitk.WriteImage(image, str(path))
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def isla_b(tmp_path_factory):
    root = tmp_path_factory.mktemp("attention_maps")
    folder, network = make_model_folder(root, "ISLATrainer_B")
    (root / "images").mkdir()
    return folder, network, write_case(root / "images")


def zscore_in_brain(paths) -> np.ndarray:
    """nnU-Net's ZScoreNormalization with the brain mask, on the full frame (0 outside the brain)."""
    channels = []
    for path in paths:
        array = sitk.GetArrayFromImage(sitk.ReadImage(str(path))).astype(np.float64)
        out = np.zeros_like(array)
        brain = array[BOX]
        out[BOX] = (brain - brain.mean()) / brain.std()
        channels.append(out)
    return np.stack(channels).astype(np.float32)


def test_raw_case_maps_are_the_gate_coefficients_upsampled_to_the_image_grid(isla_b, tmp_path):
    folder, network, images = isla_b
    written = export_attention_maps(folder, tmp_path / "out", images=images, fold=0)
    names = [p.name for p in written]
    assert names == [f"case7_gate_level{i}_spatial.nii.gz" for i in range(1, 6)] + ["case7_channel_weights.json"]

    expected = {m.name: m.coefficients[0].double().numpy() for m in
                capture_attention_maps(network, torch.from_numpy(zscore_in_brain(images))[None])}
    for path in written[:-1]:
        image = sitk.ReadImage(str(path))
        assert image.GetSize() == reference.SHAPE_XYZ
        assert np.allclose(image.GetSpacing(), reference.SPACING_XYZ)
        assert image.GetOrigin() == pytest.approx(ORIGIN) and image.GetDirection() == pytest.approx(DIRECTION)
        values = sitk.GetArrayFromImage(image)
        assert values.min() >= 0 and values.max() <= 1 and values.std() > 1e-3
        coarse = expected[path.name[len("case7_"):-len(".nii.gz")]]
        np.testing.assert_allclose(values, linear_resize(coarse, reference.SHAPE_ZYX)[0], atol=2e-4)
    # The SE weights of each level are one number per channel of that level.
    weights = json.loads(written[-1].read_text())
    assert list(weights) == [f"skip_level{i}_channel" for i in range(1, 6)]
    for name, values in weights.items():
        np.testing.assert_allclose(values, expected[name].reshape(-1), atol=1e-6)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_preprocessed_case_gives_the_same_maps(isla_b, tmp_path):
    folder, _, images = isla_b
    plans_manager, configuration = managers(FEATURES)
    preprocessor = configuration.preprocessor_class(verbose=False)
    preprocessor.run_case_save(str(tmp_path / "case7"), [str(p) for p in images], None, plans_manager,
                               configuration, dataset_json())
    from_raw = export_attention_maps(folder, tmp_path / "raw", images=images)
    from_preprocessed = export_attention_maps(folder, tmp_path / "pre", preprocessed=tmp_path / "case7.b2nd")
    assert [p.name for p in from_raw] == [p.name for p in from_preprocessed]
    for a, b in zip(from_raw[:-1], from_preprocessed[:-1], strict=True):
        image_a, image_b = sitk.ReadImage(str(a)), sitk.ReadImage(str(b))
        assert image_a.GetOrigin() == pytest.approx(image_b.GetOrigin())
        np.testing.assert_allclose(sitk.GetArrayFromImage(image_a), sitk.GetArrayFromImage(image_b), atol=1e-6)


def test_cli_writes_the_maps_and_reports_bad_input_in_one_line(isla_b, tmp_path, capsys):
    folder, _, images = isla_b
    assert main(["attention-maps", "-m", str(folder), "-i", *map(str, images), "-o", str(tmp_path),
                 "--case-id", "demo"]) == 0
    assert (tmp_path / "demo_gate_level1_spatial.nii.gz").is_file()
    assert "wrote" in capsys.readouterr().out

    assert main(["attention-maps", "-m", str(folder), "-i", str(images[0]), "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "takes 2 input images per case" in err and "\n" not in err

    assert main(["attention-maps", "-m", str(tmp_path / "nope"), "-i", *map(str, images), "-o", str(tmp_path)]) == 2
    assert "does not exist: give an nnU-Net trained-model folder" in capsys.readouterr().err


def test_models_without_attention_and_off_grid_cases_are_refused(isla_b, tmp_path):
    _, _, images = isla_b
    folder, _ = make_model_folder(tmp_path, "ISLATrainer_UFL_Std_DS_NoAtt")
    with pytest.raises(ISLAError, match="has no attention modules"):
        export_attention_maps(folder, tmp_path / "out", images=images)
    (tmp_path / "odd").mkdir()
    odd = write_case(tmp_path / "odd", shape_zyx=(32, 224, 180))
    with pytest.raises(ISLAError, match="cannot divide"):
        export_attention_maps(isla_b[0], tmp_path / "out", images=odd)
    with pytest.raises(ISLAError, match="either the case's images"):
        export_attention_maps(isla_b[0], tmp_path / "out")


def test_written_maps_keep_geometry_channels_and_axis_order(tmp_path):
    ramp = torch.arange(4.0).reshape(1, 1, 1, 1, 4).expand(1, 1, 2, 3, 4) / 4   # linear along x
    hybrid = torch.rand(1, 3, 2, 3, 4)
    channel = torch.tensor([0.25, 0.5]).reshape(1, 2, 1, 1, 1)
    maps = maps_on_grid([AttentionMap("gate", 2, "spatial", ramp), AttentionMap("gate", 2, "hybrid", hybrid),
                         AttentionMap("skip", 1, "channel", channel)], (2, 6, 8))
    np.testing.assert_allclose(maps[0].coefficients.numpy(), linear_resize(ramp.double().numpy(), (2, 6, 8)),
                               atol=1e-6)
    assert maps[2].coefficients is channel
    grid = sitk.Image(8, 6, 2, sitk.sitkUInt8)
    grid.SetSpacing((0.9, 0.8, 6.0))
    grid.SetOrigin((1.0, 2.0, 3.0))
    paths = write_attention_maps(maps, grid, tmp_path, "c")
    spatial, hyb = (sitk.ReadImage(str(p)) for p in paths[:2])
    assert spatial.GetSize() == (8, 6, 2) and spatial.GetSpacing() == pytest.approx((0.9, 0.8, 6.0))
    assert spatial.GetOrigin() == pytest.approx((1.0, 2.0, 3.0))
    assert hyb.GetSize() == (8, 6, 2, 3)   # one volume per encoder channel
    np.testing.assert_allclose(sitk.GetArrayFromImage(hyb)[1], maps[1].coefficients[0, 1].numpy(), atol=1e-7)
    assert json.loads(paths[2].read_text()) == {"skip_level1_channel": [0.25, 0.5]}
    # A plans transpose is undone before writing: the network frame (x, y, z) becomes (z, y, x).
    flipped = [AttentionMap("gate", 1, "spatial", torch.rand(1, 1, 8, 6, 2))]
    path = write_attention_maps(flipped, grid, tmp_path / "t", "c", transpose_backward=[2, 1, 0])[0]
    np.testing.assert_allclose(sitk.GetArrayFromImage(sitk.ReadImage(str(path))),
                               flipped[0].coefficients[0, 0].numpy().transpose(2, 1, 0), atol=1e-7)
    with pytest.raises(ISLAError, match="resample them with maps_on_grid"):
        write_attention_maps([AttentionMap("gate", 3, "spatial", torch.rand(1, 1, 2, 3, 4))], grid, tmp_path, "c")


@pytest.mark.slow
def test_cli_on_a_model_trained_by_nnunetv2_train(tiny_workspace, trained_isla_model, tmp_path):
    # ISLA-B trained for one epoch through the stock CLI (shared session fixture), then the user command.
    images = sorted((tiny_workspace.raw / "imagesTs").glob("*_000[01].nii.gz"))[:2]
    case = images[0].name[: -len("_0000.nii.gz")]
    tiny_workspace.run("isla", "attention-maps", "-m", trained_isla_model, "-f", "0", "-i", *images,
                       "-o", tmp_path)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted([f"{case}_gate_level{i}_spatial.nii.gz" for i in range(1, 6)]
                             + [f"{case}_channel_weights.json"])
    source = sitk.ReadImage(str(images[0]))
    for i in range(1, 6):
        image = sitk.ReadImage(str(tmp_path / f"{case}_gate_level{i}_spatial.nii.gz"))
        assert image.GetSize() == source.GetSize() and image.GetOrigin() == pytest.approx(source.GetOrigin())
        values = sitk.GetArrayFromImage(image)
        assert values.min() >= 0 and values.max() <= 1
