"""nnU-Net's predictor, set up from a trained-model folder without unpickling code.

``nnUNetPredictor.initialize_from_trained_model_folder`` reads each fold's checkpoint with
``torch.load(weights_only=False)``, so a crafted ``.pth`` runs its payload before any check. This
module builds the same predictor state (plans, configuration, network, per-fold weights, trainer
name, mirroring axes) from checkpoints read by :func:`isla_nnunet.io.checkpoints.load_checkpoint`
and hands it to nnU-Net through ``manual_initialization``, the entry its trainers use for their final
validation; the predictor then behaves as nnU-Net's own.

Example:
    >>> from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor  # doctest: +SKIP
    >>> predictor = nnUNetPredictor(device=torch.device("cpu"))  # doctest: +SKIP
    >>> initialize_predictor(predictor, "nnUNet_results/Dataset601_SimStrokeB/"
    ...                      "ISLATrainer_B__ISLAPlans__3d_fullres", (0,))  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from isla_nnunet.errors import ISLAError
from isla_nnunet.io.checkpoints import FINAL_CHECKPOINT, check_checkpoint_name, load_checkpoint


def initialize_predictor(predictor, model_folder: str | os.PathLike, folds: Sequence[int | str],
                         checkpoint_name: str = FINAL_CHECKPOINT) -> None:
    """Load ``folds`` of ``model_folder`` into ``predictor`` (an ``nnUNetPredictor``).

    Args:
        predictor: a freshly constructed ``nnUNetPredictor``.
        model_folder: ``<trainer>__<plans>__<configuration>`` with ``plans.json``, ``dataset.json`` and
            ``fold_<f>/<checkpoint_name>``.
        folds: fold numbers (or ``"all"``), at least one.
        checkpoint_name: a file name inside each fold folder.

    Raises:
        ISLAError: no folds, a checkpoint name that is a path, a checkpoint that holds more than
            tensors and numbers, or one without the entries nnU-Net writes.
        RuntimeError: nnU-Net cannot find the trainer class the checkpoint names.
    """
    from batchgenerators.utilities.file_and_folder_operations import load_json
    from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name
    from nnunetv2.utilities.label_handling.label_handling import determine_num_input_channels
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    folder = Path(model_folder)
    check_checkpoint_name(checkpoint_name)
    if not folds:
        raise ISLAError(f"no folds to load from {folder}: train a fold or pass the folds that exist")
    dataset_json = load_json(str(folder / "dataset.json"))
    plans_manager = PlansManager(load_json(str(folder / "plans.json")))
    checkpoints = []
    for fold in folds:
        fold = fold if fold == "all" else int(fold)
        path = folder / f"fold_{fold}" / checkpoint_name
        checkpoint = load_checkpoint(path)
        missing = [k for k in ("network_weights", "trainer_name", "init_args") if k not in checkpoint]
        if missing:
            raise ISLAError(f"checkpoint {path} lacks {', '.join(missing)}: it was not written by an nnU-Net "
                            "trainer; give the model folder nnU-Net training wrote")
        checkpoints.append(checkpoint)
    first = checkpoints[0]
    trainer_name = first["trainer_name"]
    configuration_manager = plans_manager.get_configuration(first["init_args"]["configuration"])
    trainer_class = recursive_find_trainer_class_by_name(trainer_name)
    network = trainer_class.build_network_architecture(
        plans_manager, configuration_manager,
        determine_num_input_channels(plans_manager, configuration_manager, dataset_json),
        plans_manager.get_label_manager(dataset_json).num_segmentation_heads,
        enable_deep_supervision=False,
    )
    parameters = [c["network_weights"] for c in checkpoints]
    network.load_state_dict(parameters[0])
    predictor.manual_initialization(network, plans_manager, configuration_manager, parameters, dataset_json,
                                    trainer_name, first.get("inference_allowed_mirroring_axes"))
