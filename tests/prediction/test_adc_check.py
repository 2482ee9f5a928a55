"""The ADC check: tables of tiny masks with hand-derived outcomes, bad arguments, and one case through
the pipeline with a model that also marks CSF."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from isla_nnunet import reference
from isla_nnunet.conversion.cases import CaseSpec
from isla_nnunet.errors import ISLAError
from isla_nnunet.evaluation.metrics import dice
from isla_nnunet.prediction.adc_check import CSF_ADC_CUT, check_restricted_diffusion
from isla_nnunet.prediction.pipeline import MASK, PredictionSettings, predict_case

from .helpers import model_set


def _volume(background: float = 800.0) -> np.ndarray:
    return np.full((3, 6, 10), background)


def _two_blocks(first: float, second: float, background: float = 800.0):
    """ADC with a 2x2x2 block at x 1-2 and another at x 6-7; the mask marks both."""
    adc = _volume(background)
    adc[1:3, 1:3, 1:3] = first
    adc[1:3, 1:3, 6:8] = second
    mask = np.zeros(adc.shape, bool)
    mask[1:3, 1:3, 1:3] = mask[1:3, 1:3, 6:8] = True
    return mask, adc


# (first block's ADC, second block's ADC, blocks kept, ratios of the removed ones); parenchyma 800.
TABLE = [
    (500.0, 1000.0, [True, False], [1.25]),      # restricted kept, raised (shine-through) removed
    (500.0, 799.0, [True, True], []),            # just below parenchyma: still restricted
    (800.0, 400.0, [False, True], [1.0]),        # equal to parenchyma: not restricted (strict <)
    (3000.0, 2000.0, [False, False], [3.75, 2.5]),  # CSF-like: both removed
]


@pytest.mark.parametrize("first, second, kept, removed_ratios", TABLE)
def test_lesions_are_kept_only_below_the_parenchymas_median_adc(first, second, kept, removed_ratios):
    mask, adc = _two_blocks(first, second)
    result = check_restricted_diffusion(mask, adc, np.ones(adc.shape))
    assert result.parenchyma_adc == 800.0
    assert [result.mask[1, 1, 1], result.mask[1, 1, 6]] == kept
    assert sorted(round(c.ratio, 4) for c in result.removed) == sorted(removed_ratios)
    assert len(result.kept) == sum(kept) and all(c.voxels == 8 for c in (*result.kept, *result.removed))
    assert not (result.mask & ~mask).any()   # the check only removes


def test_a_lesion_is_judged_by_its_median_not_by_a_few_bright_voxels():
    mask, adc = _two_blocks(500.0, 800.0)
    adc[1, 1, 1] = adc[1, 1, 2] = adc[1, 2, 1] = 2900.0   # 3 of 8 voxels partial-volumed with CSF
    result = check_restricted_diffusion(mask, adc, np.ones(adc.shape))
    assert result.kept[0].median_adc == 500.0 and result.mask[2, 2, 2]


def test_parenchyma_leaves_out_csf_the_lesions_and_everything_outside_the_brain():
    mask, adc = _two_blocks(500.0, 1000.0, background=700.0)
    adc[0] = 3000.0                          # a slab of CSF: above the cut
    brain = np.ones(adc.shape, bool)
    brain[:, :, 9] = False
    adc[:, :, 9] = 100.0                     # outside the brain: not parenchyma
    result = check_restricted_diffusion(mask, adc, brain)
    assert result.parenchyma_adc == 700.0
    assert 3000.0 >= CSF_ADC_CUT > 1000.0


def test_diagonal_neighbours_form_one_lesion_judged_as_a_whole():
    adc = _volume()
    mask = np.zeros(adc.shape, bool)
    mask[1, 1, 1] = mask[2, 2, 2] = True      # 26-connected
    adc[1, 1, 1], adc[2, 2, 2] = 500.0, 600.0
    result = check_restricted_diffusion(mask, adc, np.ones(adc.shape))
    assert len(result.kept) == 1 and result.kept[0].voxels == 2 and result.kept[0].median_adc == 550.0


def test_an_empty_mask_stays_empty():
    result = check_restricted_diffusion(np.zeros((2, 3, 4)), _volume()[:2, :3, :4], np.ones((2, 3, 4)))
    assert not result.mask.any() and result.kept == () and result.removed == ()


def test_report_entry_lists_what_was_removed_in_ml():
    mask, adc = _two_blocks(500.0, 1000.0)
    entry = check_restricted_diffusion(mask, adc, np.ones(adc.shape)).to_dict(voxel_ml=0.008)
    assert entry["parenchyma_median_adc"] == 800.0 and entry["kept"] == 1
    assert entry["removed"] == [{"volume_ml": 0.064, "voxels": 8, "median_adc": 1000.0, "adc_ratio": 1.25}]


@pytest.mark.parametrize("shapes, message", [
    (((2, 3, 4), (2, 3, 4), (2, 3, 5)), "differ in shape"),
    (((2, 3, 4), (2, 3, 5), (2, 3, 4)), "differ in shape"),
])
def test_arrays_of_different_shapes_are_refused(shapes, message):
    mask, adc, brain = (np.ones(s) for s in shapes)
    with pytest.raises(ISLAError, match=message):
        check_restricted_diffusion(mask, adc, brain)


@pytest.mark.parametrize("adc_value", [0.0, 2500.0])
def test_a_brain_without_parenchyma_like_adc_is_refused(adc_value):
    adc = np.full((2, 3, 4), adc_value)
    mask = np.zeros(adc.shape, bool)
    mask[0, 0, 0] = True
    with pytest.raises(ISLAError, match="parenchyma-like ADC"):
        check_restricted_diffusion(mask, adc, np.ones(adc.shape))


class _InfarctAndCSFModel:
    """Marks the infarct (bright on DWI, ADC well below the brain's median) and, as a stand-in for a
    model's false positives, CSF (ADC far above the median) more than 8 mm away from the infarct."""

    postprocessing = None
    input_channels = 2
    name = "infarct-and-csf"

    def lesion_probability(self, channels: np.ndarray) -> np.ndarray:
        dwi, adc = channels
        inside = adc > 0
        infarct = inside & (adc < 0.75 * np.median(adc[inside])) & (dwi > 1.3 * np.median(dwi[inside]))
        far = ndimage.distance_transform_edt(~infarct, sampling=reference.SPACING_XYZ[::-1]) > 8.0
        csf = inside & (adc > 2.5 * np.median(adc[inside])) & far
        return np.where(infarct | csf, 0.9, 0.0).astype(np.float32)

    def to_dict(self) -> dict:
        return {"name": self.name, "source": "test double"}


def test_the_pipeline_removes_the_csf_and_keeps_the_infarct(native_case, tmp_path):
    spec = CaseSpec("sim5", str(native_case["dwi"]), adc=str(native_case["adc"]),
                    brain=str(native_case["brainmask"]), role="test")
    models = model_set(_InfarctAndCSFModel())
    plain = predict_case(spec, models, tmp_path / "plain")
    checked = predict_case(spec, models, tmp_path / "checked", PredictionSettings(adc_check=True))
    truth = sitk.GetArrayFromImage(sitk.ReadImage(str(native_case["msk"]))) > 0
    before, after = (sitk.GetArrayFromImage(sitk.ReadImage(str(r.outdir / MASK))) > 0 for r in (plain, checked))
    entry = checked.report["prediction"]["adc_check"]
    assert "adc_check" not in plain.report["prediction"] and "adc_check" in checked.report["timings_s"]
    assert entry["removed"] and all(r["adc_ratio"] >= 1.0 for r in entry["removed"])
    assert not (after & ~before).any()
    assert dice(after, truth) > max(0.5, dice(before, truth) + 0.1)
    assert checked.report["lesion"]["count"] == entry["kept"]
    assert abs(sum(r["volume_ml"] for r in entry["removed"]) + checked.report["lesion"]["total_volume_ml"]
               - plain.report["lesion"]["total_volume_ml"]) < 1e-3
