"""Break the overfit test once per fault it must catch, and report whether it catches each.

``tests/training/test_overfit.py`` is meant to fail when images and labels are misaligned, when the
loss's sign is wrong, or when augmentation moves the image without its label. This script runs the
test's own function with one part replaced and prints, per fault, whether an assertion failed and
which one (about a minute per fault on 2 cores)::

    python scripts/check_overfit_sabotage.py [misaligned-labels negated-loss image-flipped-without-label]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
import types
from pathlib import Path

import torch

TEST = Path(__file__).resolve().parents[1] / "tests" / "training" / "test_overfit.py"
FAULTS = ("misaligned-labels", "negated-loss", "image-flipped-without-label")


def load_test():
    spec = importlib.util.spec_from_file_location("overfit", TEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def break_test(test, fault: str) -> None:
    if fault == "negated-loss":
        real = test.losses

        class Negated(real.ISLADeepSupervisionLoss):
            def forward(self, *args, **kwargs):
                return -super().forward(*args, **kwargs)

        test.losses = types.SimpleNamespace(ISLADeepSupervisionLoss=Negated,
                                            BinaryFromTwoClassLogits=real.BinaryFromTwoClassLogits,
                                            AsymmetricUnifiedFocalLoss=real.AsymmetricUnifiedFocalLoss)
        return
    real_batch = test.augmented_batch
    if fault == "image-flipped-without-label":
        def broken(cases, transforms):
            images, targets = real_batch(cases, transforms)
            return torch.flip(images, dims=(-1,)), targets
    else:  # misaligned-labels: every target rolled by 8 voxels along x
        def broken(cases, transforms):
            images, targets = real_batch(cases, transforms)
            return images, [torch.roll(t, shifts=max(1, 8 * t.shape[-1] // images.shape[-1]), dims=-1)
                            for t in targets]
    test.augmented_batch = broken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("faults", nargs="*", metavar="FAULT", help=f"any of {', '.join(FAULTS)} (default: all)")
    args = parser.parse_args()
    unknown = sorted(set(args.faults) - set(FAULTS))
    if unknown:
        parser.error(f"unknown fault {unknown[0]}: choose from {', '.join(FAULTS)}")
    for fault in args.faults or FAULTS:
        test = load_test()
        break_test(test, fault)
        start = time.perf_counter()
        try:
            test.test_isla_unet_overfits_two_simulated_cases()
            verdict = "NOT CAUGHT: the test passed"
        except AssertionError as err:
            verdict = f"caught: {str(err).splitlines()[0]}"
        print(f"{fault}: {verdict} ({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
