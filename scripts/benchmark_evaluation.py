"""Seconds per case for ``isla evaluate`` metrics on ISLA's reference grid (192 x 224 x 32 voxels).

Cases are masks on the reference grid (0.9 x 0.9 x 6 mm): each real ISLES'22 mask in ../shared/data
(when that folder exists) resampled (nearest neighbour) onto the grid spacing and centred in it, and
five synthetic cases of 1-7 random ellipsoid lesions spread over the whole grid (a harder case for
HD95, whose cost grows with the lesions' bounding box). The prediction is the ground truth moved by (0, 2, 3)
voxels, dilated in-plane, missing its smallest lesion and with three false-positive blobs, so every
metric (including HD95) does real work. Everything runs in one thread.

Usage:
    python scripts/benchmark_evaluation.py [--repeats 5]
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cc3d  # noqa: E402
import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

from isla_nnunet import reference  # noqa: E402
from isla_nnunet.evaluation import evaluate_case, evaluate_files, read_mask  # noqa: E402
from isla_nnunet.evaluation.images import Geometry, write_image  # noqa: E402

GOAL_S = 0.5
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "isles22"
REAL_MASKS = (
    "masks_only/sub-strokecase0002_ses-0001_dwi.nii.gz",
    "masks_only/sub-strokecase0003_ses-0001_dwi.nii.gz",
    "masks_only/38496fea-2c64-4afe-9c42-d4d527191040.mha",
    "masks_only/717ee719-0701-4fb3-9c69-52a7dbaa5e56.mha",
    "sub-strokecase0009/sub-strokecase0009_ses-0001_msk.nii.gz",
)


def _embed(mask: np.ndarray, spacing_zyx) -> np.ndarray:
    """Resample a mask onto the reference spacing (nearest neighbour) and centre it in the grid."""
    zoom = [s / t for s, t in zip(spacing_zyx, reference.SPACING_ZYX, strict=True)]
    resampled = ndimage.zoom(mask.astype(np.uint8), zoom, order=0).astype(bool)
    out = np.zeros(reference.SHAPE_ZYX, dtype=bool)
    src, dst = [], []
    for have, want in zip(resampled.shape, reference.SHAPE_ZYX, strict=True):
        n = min(have, want)
        src.append(slice((have - n) // 2, (have - n) // 2 + n))
        dst.append(slice((want - n) // 2, (want - n) // 2 + n))
    out[tuple(dst)] = resampled[tuple(src)]
    return out


def _synthetic(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    grid = np.indices(reference.SHAPE_ZYX, dtype=np.float32)
    out = np.zeros(reference.SHAPE_ZYX, dtype=bool)
    for _ in range(rng.integers(1, 8)):
        centre = [rng.uniform(4, n - 4) for n in reference.SHAPE_ZYX]
        radii = [rng.uniform(0.5, 3), rng.uniform(3, 25), rng.uniform(3, 25)]
        out |= sum(((grid[i] - centre[i]) / radii[i]) ** 2 for i in range(3)) <= 1
    return out


def _prediction(gt: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pred = ndimage.binary_dilation(np.roll(gt, (0, 2, 3), axis=(0, 1, 2)), np.ones((1, 3, 3), bool))
    labels, n = cc3d.connected_components(gt, connectivity=26, return_N=True)
    if n > 1:
        sizes = np.bincount(labels.ravel())[1:]
        pred &= labels != 1 + int(np.argmin(sizes))
    for _ in range(3):
        z, y, x = (int(rng.integers(2, s - 4)) for s in reference.SHAPE_ZYX)
        pred[z:z + 2, y:y + 4, x:x + 4] = True
    return pred


def _cases() -> list[tuple[str, np.ndarray]]:
    paths = [SHARED / name for name in REAL_MASKS]
    synthetic = [(f"synthetic-{seed}", _synthetic(seed)) for seed in range(5)]
    if not all(p.is_file() for p in paths):
        print(f"note: {SHARED} not found, using synthetic cases only")
        return synthetic
    real = [(p.name, _embed(m.array, m.geometry.spacing_zyx)) for p in paths for m in [read_mask(p)]]
    return real + synthetic


def _best_of(repeats: int, function, *args) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timings per case; the best is kept")
    args = parser.parse_args()
    geometry = Geometry(reference.SHAPE_ZYX, reference.SPACING_ZYX, (0.0, 0.0, 0.0),
                        (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible, 1 thread used; "
          f"grid (z,y,x) {reference.SHAPE_ZYX} at {reference.SPACING_ZYX} mm")
    metrics_times, file_times, names = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        for seed, (name, gt) in enumerate(_cases()):
            pred = _prediction(gt, seed)
            gt_path = write_image(gt.astype(np.uint8), geometry, Path(folder) / f"gt{seed}.nii.gz")
            pred_path = write_image(pred.astype(np.uint8), geometry, Path(folder) / f"pred{seed}.nii.gz")
            row = evaluate_case(pred, gt, reference.SPACING_ZYX)
            names.append(name)
            metrics_times.append(_best_of(args.repeats, evaluate_case, pred, gt, reference.SPACING_ZYX))
            file_times.append(_best_of(args.repeats, evaluate_files, pred_path, gt_path))
            print(f"  {name:<58} gt {row['gt_volume_ml']:6.2f} ml, {int(row['gt_lesions']):3d} lesions, "
                  f"DSC {row['dice']:.3f}, HD95 {row['hd95_mm']:6.2f} mm: metrics {metrics_times[-1]:.3f} s, "
                  f"with reading {file_times[-1]:.3f} s")
    groups = {"real masks": [i for i, n in enumerate(names) if not n.startswith("synthetic")],
              "synthetic": [i for i, n in enumerate(names) if n.startswith("synthetic")]}
    for group, indices in groups.items():
        for label, times in (("metrics only", metrics_times), ("read 2 NIfTI + metrics", file_times)):
            if indices:
                chosen = [times[i] for i in indices]
                mean, worst = statistics.mean(chosen), max(chosen)
                print(f"{group}, {label}: {mean:.3f} s per case on average, {worst:.3f} s worst "
                      f"({worst / GOAL_S:.2f} x the {GOAL_S} s goal)")


if __name__ == "__main__":
    main()
