"""The Clèrigues et al. (2019) experiment planner under the installed planner namespace.

nnU-Net never looks planners up by folder; ``isla plan --planner clerigues`` runs it. The logic lives
in :mod:`isla_nnunet.nnunet.clerigues_planning`.
"""

from isla_nnunet.nnunet.clerigues_planning import CleriguesPlanner

__all__ = ["CleriguesPlanner"]
