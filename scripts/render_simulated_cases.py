"""Montage of simulated cases (DWI, ADC, DWI with the lesion outline) for docs/simulation.md.

Each row is one case at its slice with the most lesion, shown in the radiological convention (patient
right on image left) with millimetre-true aspect. DWI is windowed to [0, 2.5 x median of normal
parenchyma], ADC to [0, 3.5e-3 mm^2/s] whatever the stored unit.

Usage:
    python scripts/render_simulated_cases.py                       # -> docs/images/simulated_cases.png
    python scripts/render_simulated_cases.py --real ../shared/data -o /tmp/simulated_vs_real.png

``--randomisation`` shows one row per domain-randomisation option instead, each switched on alone
on the same subject (seed 107, source domain), so every option can be judged beside the real cases.

``--real`` adds the real ISLES'22 and SOOP cases (see ../shared/data/SOURCES.md) for inspection; that
picture contains real data and is refused inside the repository.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402

from isla_nnunet.simulation import simulate_case  # noqa: E402
from isla_nnunet.simulation.domains import get_domain  # noqa: E402
from isla_nnunet.simulation.randomisation import PROBABILITY_OPTIONS, RANDOMISED, Randomisation  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO / "docs" / "images" / "simulated_cases.png"
# (seed, domain, pattern, volume_ml): one row each, covering the presets and the stroke patterns.
SIMULATED = (
    (101, "source", "single", 60.0),
    (102, "target", "mixed", 35.0),
    (103, "isles22-like", "scattered", 4.0),
    (104, "soop-like", "single", 15.0),
    (105, "isles22-like", "lacunar", 0.8),
)
REAL = (
    (
        "ISLES'22 case 0009 (b800, ADC 1e-3)",
        "isles22/sub-strokecase0009/sub-strokecase0009_ses-0001_{}.nii.gz",
        ("dwi", "adc", "msk"),
    ),
    (
        "SOOP subject 3 (b1000, ADC 1e-6)",
        "soop/sub-3/sub-3_{}.nii.gz",
        ("rec-TRACE_dwi", "rec-ADC_dwi", "space-TRACE_desc-lesion_mask"),
    ),
)
ADC_MAX_MM2_S = 3.5e-3
# Template point (mm) in the cerebellum, where the posterior fossa's regional contrast is shown.
POSTERIOR_FOSSA_MM = (0.0, -60.0, -35.0)
# An axial slice through the lateral ventricles, where both poles are in view.
POLES_MM = (0.0, -20.0, 12.0)


@dataclass
class Row:
    title: str
    dwi: np.ndarray  # RAS-ordered 3-D arrays
    adc_mm2_s: np.ndarray
    lesion: np.ndarray
    spacing_xyz: tuple[float, float, float]
    z: int | None = None  # axial slice shown; default: the one with the most lesion


def _to_ras(array: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, tuple[float, float, float]]:
    array = np.asarray(array).reshape(np.asarray(array).shape[:3])
    ornt = nib.orientations.io_orientation(affine)
    ras = nib.orientations.apply_orientation(array, ornt)
    spacing = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))[np.argsort(ornt[:, 0])]
    return ras, tuple(float(s) for s in spacing)


def randomisation_rows(seed: int = 107) -> list[Row]:
    """One row per option of the ``randomised`` preset, switched on alone (the mapping error shows
    only once a case is mapped onto the reference grid, so it has no row). An artefact drawn with a
    probability is switched on for sure here, so its row always shows it."""
    plans = []
    for name in RANDOMISED.active():
        if name != "registration_jitter":
            options = Randomisation(**{name: 1.0 if name in PROBABILITY_OPTIONS else getattr(RANDOMISED, name)})
            domain = replace(get_domain("source"), name=f"source + {name}", randomisation=options)
            # Regional contrast acts below the tentorium and the pile-up at the frontal and occipital
            # poles, both away from the lesion's slice.
            shown_at = {"regional_contrast": POSTERIOR_FOSSA_MM, "phase_encode_pile_up": POLES_MM}.get(name)
            plans.append((seed, domain, "mixed", 30.0, shown_at))
    return simulated_rows(plans)


def _slice_through(point_mm, affine: np.ndarray, shape) -> int:
    """Index of the RAS-ordered axial slice holding a world point (mm)."""
    marker = np.zeros(shape, np.uint8)
    index = np.clip(np.round(np.linalg.solve(affine, [*point_mm, 1.0])[:3]).astype(int), 0, np.array(shape) - 1)
    marker[tuple(index)] = 1
    return int(np.argwhere(_to_ras(marker, affine)[0])[0, 2])


def simulated_rows(plans=SIMULATED) -> list[Row]:
    rows = []
    for seed, domain, pattern, volume, *shown_at in plans:
        case = simulate_case(seed, domain, pattern=pattern, volume_ml=volume)
        domain = get_domain(domain).name
        dwi, spacing = _to_ras(case.dwi.astype(np.float32), case.affine)
        adc, _ = _to_ras(case.adc.astype(np.float32) * case.acquisition.adc_unit, case.affine)
        lesion, _ = _to_ras(case.lesion, case.affine)
        title = (
            f"simulated {domain}: {pattern} {case.lesion_volume_ml:.1f} ml, b{case.acquisition.b_value:.0f}, "
            f"ADC unit {case.acquisition.adc_unit:g}"
        )
        z = _slice_through(shown_at[0], case.affine, case.dwi.shape) if shown_at and shown_at[0] else None
        rows.append(Row(title, dwi, adc, lesion, spacing, z))
    return rows


def real_rows(shared: Path) -> list[Row]:
    rows = []
    for title, pattern, parts in REAL:
        images = [nib.load(shared / pattern.format(part)) for part in parts]
        dwi, spacing = _to_ras(np.asarray(images[0].dataobj, dtype=np.float32), images[0].affine)
        adc, _ = _to_ras(np.asarray(images[1].dataobj, dtype=np.float32), images[1].affine)
        lesion, _ = _to_ras(np.asarray(images[2].dataobj) > 0, images[2].affine)
        # Unit told apart by the brain median: ~0.8 in 1e-3 units, ~800 in 1e-6 units.
        unit = 1e-6 if np.median(adc[adc > 0]) > 50 else 1e-3
        rows.append(Row(f"real {title}", dwi, adc * unit, lesion, spacing))
    return rows


def _panel(ax, image, spacing, vmax, outline=None):
    shown = np.rot90(image)[:, ::-1]  # RAS -> anterior up, patient right on image left
    extent = (0, image.shape[0] * spacing[0], 0, image.shape[1] * spacing[1])
    ax.imshow(shown, cmap="gray", vmin=0, vmax=vmax, extent=extent, interpolation="nearest")
    if outline is not None and outline.any():
        ax.contour(
            np.flipud(np.rot90(outline)[:, ::-1]),
            levels=[0.5],
            colors="#ff3030",
            linewidths=0.7,
            extent=extent,
        )
    ax.set_axis_off()


def render(rows: list[Row], output: Path, dpi: int) -> None:
    fig, axes = plt.subplots(len(rows), 3, figsize=(7.2, 2.45 * len(rows)), squeeze=False)
    for row, (ax_dwi, ax_adc, ax_mask) in zip(rows, axes, strict=True):
        per_slice = row.lesion.sum(axis=(0, 1))
        z = row.z if row.z is not None else int(np.argmax(per_slice)) if per_slice.any() else row.dwi.shape[2] // 2
        # Normal parenchyma by its ADC, so that real whole-head images are windowed like stripped ones.
        parenchyma = (row.adc_mm2_s > 0.5e-3) & (row.adc_mm2_s < 1.1e-3) & (row.lesion == 0)
        dwi_max = 2.5 * float(np.median(row.dwi[parenchyma]))
        _panel(ax_dwi, row.dwi[:, :, z], row.spacing_xyz, dwi_max)
        _panel(ax_adc, row.adc_mm2_s[:, :, z], row.spacing_xyz, ADC_MAX_MM2_S)
        _panel(ax_mask, row.dwi[:, :, z], row.spacing_xyz, dwi_max, outline=row.lesion[:, :, z])
        ax_dwi.set_title(row.title, fontsize=7, loc="left")
    for ax, name in zip(axes[0], ("DWI", "ADC", "DWI + lesion mask"), strict=True):
        ax.text(0.5, -0.02, name, transform=ax.transAxes, ha="center", va="top", fontsize=6, color="0.4")
    fig.tight_layout(pad=0.3, h_pad=0.8, w_pad=0.2)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=dpi)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, help="../shared/data: add the real ISLES'22 and SOOP cases")
    parser.add_argument(
        "-o", "--output", type=Path, help=f"PNG path (default {DEFAULT_OUTPUT.relative_to(REPO)})"
    )
    parser.add_argument("--randomisation", action="store_true",
                        help="one row per domain-randomisation option instead of the preset rows")
    parser.add_argument("--dpi", type=int, default=110)
    args = parser.parse_args()
    output = (args.output or DEFAULT_OUTPUT).resolve()
    if args.real is not None and output.is_relative_to(REPO):
        parser.error("a picture with real cases must not go into the repository; pass -o /tmp/...")
    rows = randomisation_rows() if args.randomisation else simulated_rows()
    rows += (real_rows(args.real) if args.real is not None else [])
    render(rows, output, args.dpi)
    print(f"{output} ({output.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
