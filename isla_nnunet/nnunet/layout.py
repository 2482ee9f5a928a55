"""What an ISLA nnU-Net dataset holds: its channels, labels, file ending and unlabeled-image folder.

Written by ``isla convert`` and ``isla simulate``, checked by ``isla plan`` and ``isla predict``;
this module is the one place that names them.

Example:
    >>> tuple(CHANNEL_NAMES.values()), LABELS["lesion"]
    (('DWI', 'ADC'), 1)
"""

from __future__ import annotations

CHANNEL_NAMES = {"0": "DWI", "1": "ADC"}
LABELS = {"background": 0, "lesion": 1}
FILE_ENDING = ".nii.gz"
# Unlabeled target-domain images (Mean Teacher); nnU-Net itself reads neither this folder nor the
# dataset.json key "unlabeled" that announces it.
UNLABELED_FOLDER = "imagesUnlabeledTr"
