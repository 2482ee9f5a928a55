"""Synthetic acute-stroke DWI/ADC cases for tests, demos and domain-adaptation experiments.

Example:
    >>> from isla_nnunet.simulation import simulate_case
    >>> case = simulate_case(0, "source")          # straight onto the ISLA reference grid
    >>> case.dwi.shape, case.lesion.dtype.name
    ((192, 224, 32), 'uint8')

See ``docs/simulation.md`` for the model, the domains and the dataset layouts.
"""

from isla_nnunet.simulation.anatomy import (
    TISSUES,
    DiffusionImages,
    Tissue,
    diffusion_images,
    tissue_fractions,
)
from isla_nnunet.simulation.case import SimulatedCase, simulate_case
from isla_nnunet.simulation.dataset import (
    case_seed,
    write_native_case,
    write_native_cases,
    write_nnunet_dataset,
)
from isla_nnunet.simulation.domains import DOMAINS, Acquisition, Domain, describe_domains, get_domain
from isla_nnunet.simulation.geometry import GRIDS, Grid, RigidPose, get_grid
from isla_nnunet.simulation.lesions import PATTERNS, LesionSpec, sample_lesion_spec

__all__ = [
    "DOMAINS",
    "GRIDS",
    "PATTERNS",
    "TISSUES",
    "Acquisition",
    "DiffusionImages",
    "Domain",
    "Grid",
    "LesionSpec",
    "RigidPose",
    "SimulatedCase",
    "Tissue",
    "describe_domains",
    "diffusion_images",
    "get_domain",
    "get_grid",
    "sample_lesion_spec",
    "simulate_case",
    "case_seed",
    "tissue_fractions",
    "write_native_case",
    "write_native_cases",
    "write_nnunet_dataset",
]
