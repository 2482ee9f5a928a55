"""The CPU precision setting's name and values (no torch import: the shell and pre-flight checks read it).

Read wherever an ISLA network is built, ``nnUNetv2_train`` and ``nnUNetv2_predict`` included
(:mod:`isla_nnunet.networks.cpu_execution`).
"""

PRECISION_VARIABLE = "ISLA_CPU_PRECISION"
PRECISION_SETTINGS = ("auto", "bf16", "fp32")
