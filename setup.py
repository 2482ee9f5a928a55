"""Package layout that pyproject.toml cannot express alone.

The nnU-Net glue folders ``trainers/`` and ``planners/`` live at the top of the repository (nnU-Net
finds trainers by scanning a folder named in ``nnUNet_extTrainer``) but are installed inside the
``isla_nnunet`` namespace, so a regular install adds no generic top-level package names.
"""

from setuptools import find_namespace_packages, setup

GLUE = {"isla_nnunet.nnunet_trainers": "trainers", "isla_nnunet.nnunet_planners": "planners"}

setup(
    packages=find_namespace_packages(include=["isla_nnunet", "isla_nnunet.*"]) + list(GLUE),
    package_dir=GLUE,
)
