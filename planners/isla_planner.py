"""The ISLA experiment planner under the installed planner namespace.

nnU-Net never looks planners up by folder; ``isla plan`` runs it. The logic lives in
:mod:`isla_nnunet.nnunet.isla_planner`.
"""

from isla_nnunet.nnunet.isla_planner import ISLAPlanner

__all__ = ["ISLAPlanner"]
