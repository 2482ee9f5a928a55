"""Measure the same-scan checks of ``isla_nnunet.io.pairing`` on matched and crossed pairs.

Prints, for the real cases in ``--data`` (ISLES'22 0009, SOOP sub-3, the ISLES'22 masks without
images) and for simulated native cases of every domain, the DWI/ADC support Dice and correlation and
the lesion masks' share inside the head and DWI contrast, for each case's own files and for files
crossed between cases: the figures behind the thresholds in the module's docstring::

    python scripts/measure_pairing.py [--data ../shared/data] [--cases 8]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from isla_nnunet.io import load_mask
from isla_nnunet.io.case import on_dwi_grid
from isla_nnunet.io.images import read_image
from isla_nnunet.io.pairing import mask_fit, pair_agreement
from isla_nnunet.io.units import detect_adc_unit, to_canonical_adc
from isla_nnunet.simulation import simulate_case, write_native_case

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DOMAINS = ("source", "target", "isles22-like", "soop-like")


def adc_on(dwi, adc_path):
    adc = read_image(adc_path)
    return on_dwi_grid(to_canonical_adc(adc, detect_adc_unit(adc)), dwi, "ADC")[0]


def pair_row(name, dwi_path, adc_path) -> str:
    dwi = read_image(dwi_path)
    agreement = pair_agreement(dwi, adc_on(dwi, adc_path))
    return f"| {name} | {agreement.support_dice:.3f} | {agreement.correlation:.3f} |"


def mask_row(name, dwi_path, mask_path) -> str:
    dwi = read_image(dwi_path)
    try:
        fit = mask_fit(dwi, load_mask(mask_path, dwi, "lesion mask"))
    except Exception as err:  # a refused pair is a result too
        return f"| {name} | refused: {err} | |"
    return f"| {name} | {fit.inside:.3f} | {fit.contrast:.2f} |" if fit.checked else f"| {name} | (not checked) | |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cases", type=int, default=8, help="simulated cases, domains in turn")
    args = parser.parse_args()
    isles = args.data / "isles22" / "sub-strokecase0009"
    soop = args.data / "soop" / "sub-3"
    real = {"ISLES'22 0009": (isles / "sub-strokecase0009_ses-0001_dwi.nii.gz",
                              isles / "sub-strokecase0009_ses-0001_adc.nii.gz",
                              isles / "sub-strokecase0009_ses-0001_msk.nii.gz"),
            "SOOP sub-3": (soop / "sub-3_rec-TRACE_dwi.nii.gz", soop / "sub-3_rec-ADC_dwi.nii.gz",
                           soop / "sub-3_space-TRACE_desc-lesion_mask.nii.gz")}
    folder = Path(tempfile.mkdtemp(prefix="isla_pairing_"))
    sims = {}
    for i in range(args.cases):
        domain = DOMAINS[i % len(DOMAINS)]
        files = write_native_case(simulate_case(100 + i, domain), folder, f"sim{i}")
        sims[f"sim {i} ({domain})"] = (files["dwi"], files["adc"], files["msk"])

    print("| DWI + ADC | support Dice | correlation |\n|---|---|---|")
    have_real = all(p.exists() for files in real.values() for p in files)
    cases = {**(real if have_real else {}), **sims}
    for name, (dwi, adc, _) in cases.items():
        print(pair_row(f"{name}, own", dwi, adc))
    names = list(cases)
    for a, b in zip(names, names[1:] + names[:1], strict=True):
        print(pair_row(f"{a} DWI + {b} ADC", cases[a][0], cases[b][1]))

    print("\n| DWI + lesion mask | share inside the head | DWI contrast |\n|---|---|---|")
    for name, (dwi, _, mask) in cases.items():
        print(mask_row(f"{name}, own", dwi, mask))
    if have_real:
        for other in sorted((args.data / "isles22" / "masks_only").iterdir()):
            print(mask_row(f"ISLES'22 0009 DWI + mask {other.name[:24]}", real["ISLES'22 0009"][0], other))
    for a, b in zip(names, names[1:] + names[:1], strict=True):
        print(mask_row(f"{a} DWI + {b} mask", cases[a][0], cases[b][2]))


if __name__ == "__main__":
    main()
