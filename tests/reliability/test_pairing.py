"""Another scan's ADC or lesion mask is refused or flagged: crossed real pairs, built on the fly."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from isla_nnunet.cli import main
from isla_nnunet.errors import ISLAError
from isla_nnunet.io import load_case
from isla_nnunet.io.pairing import MAX_CORRELATION, MIN_SUPPORT_DICE, check_same_scan, pair_agreement
from isla_nnunet.simulation import simulate_case, write_native_case


@pytest.fixture(scope="module")
def real(shared_data):
    isles = shared_data / "isles22" / "sub-strokecase0009"
    soop = shared_data / "soop" / "sub-3"
    return {"isles": {"dwi": isles / "sub-strokecase0009_ses-0001_dwi.nii.gz",
                      "adc": isles / "sub-strokecase0009_ses-0001_adc.nii.gz",
                      "msk": isles / "sub-strokecase0009_ses-0001_msk.nii.gz"},
            "soop": {"dwi": soop / "sub-3_rec-TRACE_dwi.nii.gz", "adc": soop / "sub-3_rec-ADC_dwi.nii.gz"},
            "other_masks": shared_data / "isles22" / "masks_only"}


@pytest.mark.parametrize("name", ["isles", "soop"])
def test_own_real_pairs_load(real, name):
    case = load_case(real[name]["dwi"], real[name]["adc"])
    agreement = pair_agreement(case.dwi, case.adc)
    assert agreement.checked
    assert agreement.support_dice >= MIN_SUPPORT_DICE + 0.1 and agreement.correlation <= MAX_CORRELATION - 0.2


@pytest.mark.parametrize(("dwi", "adc"), [("isles", "soop"), ("soop", "isles")])
def test_crossed_real_pairs_are_refused(real, dwi, adc):
    with pytest.raises(ISLAError, match="give the ADC .* from the same scan as the DWI") as err:
        load_case(real[dwi]["dwi"], real[adc]["adc"])
    assert "\n" not in str(err.value)


def test_crossed_pair_refused_by_isla_predict(real, tmp_path, capsys):
    status = main(["predict", "--dwi", str(real["isles"]["dwi"]), "--adc", str(real["soop"]["adc"]),
                   "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2 and "from the same scan as the DWI" in err and not (tmp_path / "out").exists()


def test_simulated_own_pairs_of_every_domain_pass():
    for seed, domain in enumerate(("source", "target", "isles22-like", "soop-like")):
        case = simulate_case(seed, domain)
        dwi, adc = (sitk.GetImageFromArray(np.ascontiguousarray(a.transpose(2, 1, 0))) for a in (case.dwi, case.adc))
        assert check_same_scan(dwi, adc).checked


def _convert(tmp_path, dwi, adc, mask) -> int:
    (tmp_path / "cases.csv").write_text(f"case_id,dwi,adc,mask\nc1,{dwi},{adc},{mask}\n")
    status = main(["convert", str(tmp_path / "cases.csv"), "-o", str(tmp_path / "Dataset956_Pairs"),
                   "--no-progress"])
    return status


def test_mask_outside_the_head_is_refused(real, tmp_path, capsys):
    other = real["other_masks"] / "717ee719-0701-4fb3-9c69-52a7dbaa5e56.mha"  # 7 % inside case 0009's head
    status = _convert(tmp_path, real["isles"]["dwi"], real["isles"]["adc"], other)
    out = capsys.readouterr().out
    assert status == 1 and "of the lesion lies inside the DWI's head" in out


def test_mask_of_another_case_is_flagged(real, tmp_path, capsys):
    other = real["other_masks"] / "sub-strokecase0002_ses-0001_dwi.nii.gz"  # contrast 0.51
    status = _convert(tmp_path, real["isles"]["dwi"], real["isles"]["adc"], other)
    out = capsys.readouterr().out
    assert status == 3 and "mask flag c1" in out and "check that the mask belongs to this scan" in out


def test_own_mask_is_not_flagged(real, tmp_path, capsys):
    status = _convert(tmp_path, real["isles"]["dwi"], real["isles"]["adc"], real["isles"]["msk"])
    assert status == 0 and "mask flag" not in capsys.readouterr().out


def test_simulated_own_mask_is_not_flagged(tmp_path, capsys):
    files = write_native_case(simulate_case(3, "isles22-like", pattern="single", volume_ml=8.0), tmp_path, "s")
    status = _convert(tmp_path, files["dwi"], files["adc"], files["msk"])
    assert status == 0 and "mask flag" not in capsys.readouterr().out
