"""What an ISLA nnU-Net dataset holds: its channels, labels, file ending and unlabeled-image folder.

Written by ``isla convert`` and ``isla simulate``, checked by ``isla plan`` and ``isla predict``;
this module is the one place that names them.

Example:
    >>> tuple(CHANNEL_NAMES.values()), LABELS["lesion"]
    (('DWI', 'ADC'), 1)
"""

from __future__ import annotations

CHANNEL_NAMES = {"0": "DWI", "1": "ADC"}
# The network of Clèrigues et al.'s patch plans (isla plan --planner clerigues), as the plans name it.
PATCH_NETWORK_CLASS = "isla_nnunet.networks.clerigues.CleriguesUNet"
# Clèrigues et al.'s symmetric modality channels (isla add-symmetric-channels) follow the originals.
SYMMETRIC_SUFFIX = "_sym"
SYMMETRIC_CHANNEL_NAMES = {**CHANNEL_NAMES, **{str(len(CHANNEL_NAMES) + int(k)): f"{v}{SYMMETRIC_SUFFIX}"
                                               for k, v in CHANNEL_NAMES.items()}}
LABELS = {"background": 0, "lesion": 1}
FILE_ENDING = ".nii.gz"
# Unlabeled target-domain images (Mean Teacher); nnU-Net itself reads neither this folder nor the
# dataset.json key "unlabeled" that announces it.
UNLABELED_FOLDER = "imagesUnlabeledTr"
