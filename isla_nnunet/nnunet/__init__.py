"""Everything that touches nnU-Net itself: its environment and commands, the dataset layout, the
pre-flight checks and the experiment planners (ISLA's and Clèrigues et al.'s).

- :mod:`.environment`: required folders, ``nnUNet_extTrainer`` with the ISLA trainers first, a
  set-and-restore helper for environment variables, the CPU precision setting's name;
- :mod:`.commands`: nnU-Net's installed commands run in a child process with one-line errors;
- :mod:`.layout`: channel names, labels and file ending of the raw datasets this project writes;
- :mod:`.preflight`: ``isla check``, what a training run needs before it starts;
- :mod:`.planning`, :mod:`.isla_planner`: ``isla plan`` and ISLA's planner (ISLAPlans);
- :mod:`.clerigues_planning`: ``isla plan --planner clerigues`` (CleriguesPlans).

nnU-Net finds trainers by scanning the folder in ``nnUNet_extTrainer`` (``trainers/``) but never looks
planners up by folder: ``planners/`` only re-exports the planner classes under the installed
``isla_nnunet.nnunet_planners`` namespace.
"""
