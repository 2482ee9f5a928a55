"""Conversion figures on the real development cases (ISLES'22 case 0009, SOOP sub-3).

Prints, as Markdown:
- round-trip Dice of the ground-truth lesion mask, native -> reference -> native, with the mapping
  ``isla convert`` and ``isla to-native`` use (lesion counts with 26-connectivity alongside; the way back
  without and with ``--keep-small-lesions``, which re-adds one voxel per lesion lost in resampling);
- brain-mask agreement of the built-in template brain extraction: on ISLES'22 (already skull-stripped by
  the organisers) against the organisers' brain region, and on SOOP (a head, no reference mask exists)
  the share of the lesion kept inside the mask, the brain volume, and a picture for a visual check;
- seconds per case for a full conversion (load, brain mask, registration, resampling, QC, writing), with
  ``-np`` worker processes, the process start and the reference build included.

Usage (from the repository root)::

    .venv/bin/python scripts/benchmark_conversion.py [--data ../shared/data] [-np 2] [--out /tmp/isla_bench]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cc3d
import numpy as np
import SimpleITK as sitk

from isla_nnunet.conversion import DatasetFolder, convert_dataset, discover_cases
from isla_nnunet.io import load_case, load_mask, read_image
from isla_nnunet.preprocessing import Registration, extract_brain

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0, b > 0
    return float(2 * (a & b).sum() / max(1, a.sum() + b.sum()))


def _lesions(array: np.ndarray) -> int:
    return int(cc3d.connected_components((array > 0).astype(np.uint8), connectivity=26).max())


def _brain_picture(dwi: sitk.Image, mask: sitk.Image, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image, outline = sitk.GetArrayFromImage(dwi), sitk.GetArrayFromImage(mask)
    slices = np.linspace(2, image.shape[0] - 3, 8).astype(int)
    fig, axes = plt.subplots(2, 4, figsize=(16, 8))
    for ax, z in zip(axes.flat, slices, strict=True):
        ax.imshow(image[z][::-1], cmap="gray", vmax=np.percentile(image, 99.5))
        ax.contour(outline[z][::-1], levels=[0.5], colors="red", linewidths=0.8)
        ax.set_title(f"slice {z}")
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=60)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("-np", "--num-processes", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="where to keep the dataset and pictures")
    args = parser.parse_args()
    if not (args.data / "soop" / "sub-3").is_dir():
        print(f"real cases not found in {args.data}: pass --data", file=sys.stderr)
        return 1
    out = args.out or Path(tempfile.mkdtemp(prefix="isla_bench_"))
    out.mkdir(parents=True, exist_ok=True)

    specs = discover_cases(args.data / "soop") + discover_cases(args.data / "isles22" / "sub-strokecase0009")
    folder = DatasetFolder(out / "Dataset990_Benchmark")
    start = time.perf_counter()
    summary = convert_dataset(
        specs, folder.path, num_processes=args.num_processes, overwrite=True, progress=False
    )
    wall = time.perf_counter() - start
    if summary.failed:
        print("\n".join(summary.lines()), file=sys.stderr)
        return 1

    print(f"# isla convert figures, {datetime.date.today().isoformat()}")
    versions = f"Python {platform.python_version()}, SimpleITK {sitk.Version.VersionString()}"
    print(f"{os.cpu_count()} CPU cores, {versions}")
    print(f"data: {args.data}\n")
    print(
        "| case | native lesion voxels | lesions native / reference / round trip (kept small) | "
        "round-trip Dice (kept small) | QC NCC | brain method | s (in worker) |"
    )
    print("|---|---|---|---|---|---|---|")
    for spec, result in zip(specs, summary.results, strict=True):
        registration = Registration.load(folder.transform_path(spec.case_id))
        dwi = read_image(spec.dwi)
        truth = sitk.GetArrayFromImage(load_mask(spec.lesion, dwi))
        on_reference = read_image(folder.label_path(spec.case_id))
        back = sitk.GetArrayFromImage(registration.to_native(on_reference, kind="mask"))
        kept = sitk.GetArrayFromImage(registration.to_native(on_reference, kind="mask", keep_small_lesions=True))
        counts = (f"{_lesions(truth)} / {_lesions(sitk.GetArrayFromImage(on_reference))} / {_lesions(back)} "
                  f"({_lesions(kept)})")
        print(
            f"| {spec.case_id} | {int(truth.sum())} | {counts} | {_dice(back, truth):.3f} "
            f"({_dice(kept, truth):.3f}) | "
            f"{result.qc_score:.2f} | {result.brain_method} | {result.seconds:.1f} |"
        )
    print(
        f"\nconversion wall time: {wall:.1f} s for {len(specs)} cases with -np {args.num_processes} "
        f"= {wall / len(specs):.1f} s per case (process start and reference build included)\n"
    )

    print("| brain extraction (template method) | value |")
    print("|---|---|")
    isles, soop = specs[1], specs[0]
    isles_case = load_case(isles.dwi, isles.adc)
    organisers = sitk.GetArrayFromImage(isles_case.dwi) != 0
    ours = sitk.GetArrayFromImage(extract_brain(isles_case, "template"))
    agreement = _dice(ours, organisers)
    print(f"| ISLES'22 0009: Dice vs the organisers' skull-stripping (nonzero region) | {agreement:.3f} |")
    soop_case = load_case(soop.dwi, soop.adc)
    mask = extract_brain(soop_case, "template")
    brain = sitk.GetArrayFromImage(mask) > 0
    lesion = sitk.GetArrayFromImage(load_mask(soop.lesion, soop_case.dwi)) > 0
    volume = brain.sum() * np.prod(soop_case.dwi.GetSpacing()) / 1000
    print(
        f"| SOOP sub-3: lesion voxels inside the brain mask | {(brain & lesion).sum() / lesion.sum():.4f} |"
    )
    print(f"| SOOP sub-3: brain mask volume (ml) | {volume:.0f} |")
    picture = out / "soop_sub-3_brain_mask.png"
    _brain_picture(soop_case.dwi, mask, picture)
    print(f"\nvisual check of the SOOP brain mask: {picture}")
    print(f"QC pictures: {folder.path / 'qc'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
