"""ISLA-MT: ISLA-B trained as the student of a Mean Teacher for unsupervised domain adaptation.

Roca et al. (§3.2.6), after Perone et al. (2019) and Tarvainen & Valpola (2017):

* ``self.network`` (what nnU-Net optimises) is the student; ``self.teacher`` is the exponential
  moving average of its weights, updated after every optimiser step with decay 0.99 during the
  consistency ramp-up and 0.999 afterwards (:mod:`isla_nnunet.training.ema`);
* every step takes a batch of labeled source-domain images (the plans' batch size: 8 for ISLA, 2 for
  the small test plans) and a batch of the same size of unlabeled target-domain images
  (:mod:`isla_nnunet.training.unlabeled`); the student sees both in one forward pass (GroupNorm
  normalises each image on its own, so nothing mixes between them);
* loss = ISLA loss on the labeled images + w(t) * MSE of the student's and teacher's probability
  maps on the unlabeled images (:mod:`isla_nnunet.training.consistency`), w(t) ramped up over 60
  epochs to ``consistency_weight_max`` (5 for ISLA-MT);
* the student's and teacher's views of an unlabeled image share the spatial augmentation and get
  independent noise and gamma (:mod:`isla_nnunet.training.unlabeled_loader`);
* the teacher runs in evaluation mode (no dropout) without gradients.

The teacher is the model: it is validated (nnU-Net's per-epoch pseudo Dice, the best-checkpoint
choice and the final validation all run with it) and exported. Checkpoints store the teacher under
``network_weights``, the key ``nnUNetv2_predict`` loads, and the student under ``student_weights``,
with the optimiser (the student's) and the Mean Teacher state, so ``nnUNetv2_train ... --c`` resumes
exactly. Unlabeled images reach only the consistency term: nnU-Net's splits, supervised loss and
validation see the labeled cases alone.

Multi-GPU (``-num_gpus`` > 1) is refused: the teacher update and the unlabeled stream are written for
a single process.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from nnunetv2.utilities.helpers import dummy_context

from isla_nnunet.errors import ISLAError
from isla_nnunet.io import checkpoints
from isla_nnunet.training.consistency import (
    CONSISTENCY_WEIGHT_MAX,
    RAMPUP_EPOCHS,
    consistency_weight,
    full_resolution,
    mean_teacher_loss,
)
from isla_nnunet.training.ema import (
    EMA_DECAY_AFTER_RAMPUP,
    EMA_DECAY_DURING_RAMPUP,
    ema_decay,
    ema_update,
    make_teacher,
)
from isla_nnunet.training.full_frame import full_frame_dataset_class
from isla_nnunet.training.unlabeled import preprocess_unlabeled, preprocessed_unlabeled_folder
from isla_nnunet.training.unlabeled_loader import split_views, unlabeled_batches
from isla_nnunet.training.variants import ISLATrainer_B

STUDENT_KEY = "student_weights"
STATE_KEY = "mean_teacher"


class ISLATrainer_MT(ISLATrainer_B):  # nnU-Net finds trainers by this permanent name
    """ISLA-MT: ISLA-B as the student of an EMA teacher; w_max = 5, 60-epoch ramp-up (Roca et al., §3.2.6)."""

    consistency_weight_max = CONSISTENCY_WEIGHT_MAX
    rampup_epochs = RAMPUP_EPOCHS
    ema_decay_during_rampup = EMA_DECAY_DURING_RAMPUP
    ema_decay_after_rampup = EMA_DECAY_AFTER_RAMPUP

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):  # noqa: B008 (nnU-Net's signature)
        if dist.is_available() and dist.is_initialized():
            raise ISLAError(f"{type(self).__name__} does not support multi-GPU training (-num_gpus > 1): "
                            "train Mean Teacher on one GPU")
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.teacher = None
        self.ema_updates = 0
        self.dataloader_unlabeled = None

    # --- schedule ------------------------------------------------------------------------------
    def consistency_weight(self) -> float:
        """w(t) for the current epoch."""
        return consistency_weight(self.current_epoch, self.consistency_weight_max, self.rampup_epochs)

    def ema_decay(self) -> float:
        """EMA decay for steps of the current epoch."""
        return ema_decay(self.current_epoch, self.rampup_epochs, self.ema_decay_during_rampup,
                         self.ema_decay_after_rampup)

    def mean_teacher_state(self) -> dict:
        """What a checkpoint needs beyond nnU-Net's own entries to resume the Mean Teacher exactly.

        The ramp-up position is the epoch, which nnU-Net saves and restores (``current_epoch``); the
        schedule's settings are stored to refuse resuming under different ones.
        """
        return {"ema_updates": self.ema_updates, "consistency_weight_max": self.consistency_weight_max,
                "rampup_epochs": self.rampup_epochs,
                "ema_decays": [self.ema_decay_during_rampup, self.ema_decay_after_rampup]}

    # --- networks ------------------------------------------------------------------------------
    def student(self) -> torch.nn.Module:
        """The student network without compile wrappers."""
        return getattr(self.network, "_orig_mod", self.network)

    def initialize(self):
        super().initialize()
        self.teacher = make_teacher(self.student())

    @contextmanager
    def teacher_as_network(self):
        """Let nnU-Net's code that uses ``self.network`` (validation, export) run with the teacher."""
        student, self.network = self.network, self.teacher
        try:
            yield
        finally:
            self.network = student

    # --- data ----------------------------------------------------------------------------------
    def unlabeled_dataset(self):
        """The preprocessed unlabeled images (preprocessed here if ``isla plan`` has not done it)."""
        from nnunetv2.paths import nnUNet_raw
        from nnunetv2.training.dataloading.nnunet_dataset import infer_dataset_class

        folder = preprocessed_unlabeled_folder(self.preprocessed_dataset_folder)
        if nnUNet_raw:
            raw = Path(nnUNet_raw) / self.plans_manager.dataset_name
            if (raw / "dataset.json").is_file():
                preprocess_unlabeled(raw, self.preprocessed_dataset_folder, self.plans_manager.plans,
                                     self.configuration_name, self.dataset_json)
        if not folder.is_dir() or not any(folder.glob("*.pkl")):
            raise ISLAError(f"{type(self).__name__} needs unlabeled target-domain images, none in {folder}: "
                            'list them in dataset.json under "unlabeled" (see docs/mean_teacher.md) and run '
                            "`isla plan`")
        dataset_class = full_frame_dataset_class(infer_dataset_class(str(folder)))
        return dataset_class(str(folder), None)

    def on_train_start(self):
        super().on_train_start()
        from nnunetv2.utilities.default_n_proc_DA import get_allowed_n_proc_DA

        dataset = self.unlabeled_dataset()
        self.print_to_log_file(
            f"Mean Teacher: {len(dataset.identifiers)} unlabeled images, {self.batch_size} labeled + "
            f"{self.batch_size} unlabeled per step, w_max={self.consistency_weight_max}, "
            f"ramp-up {self.rampup_epochs} epochs")
        self.dataloader_unlabeled = unlabeled_batches(
            dataset, self.batch_size, self.configuration_manager.patch_size, self.label_manager,
            self.num_input_channels, get_allowed_n_proc_DA() // 2, pin_memory=self.device.type == "cuda")
        if self.ema_updates == 0:
            # A fresh run (or one started from -pretrained_weights) begins with teacher = student.
            self.teacher.load_state_dict(self.student().state_dict())

    def on_train_end(self):
        super().on_train_end()
        finish = getattr(self.dataloader_unlabeled, "_finish", None)
        if finish is not None:
            finish()

    # --- training ------------------------------------------------------------------------------
    def on_train_epoch_start(self):
        super().on_train_epoch_start()
        self.print_to_log_file(f"Mean Teacher: consistency weight {self.consistency_weight():.5g}, "
                               f"EMA decay {self.ema_decay()}")

    def train_step(self, batch: dict) -> dict:
        """nnU-Net 2.8.1's ``nnUNetTrainer.train_step`` with the teacher and the consistency term added.

        nnU-Net offers no smaller hook around its forward pass, so its step is re-typed here; at consistency
        weight 0 it is nnU-Net's own step on the labeled half (drift test in tests/training/test_trainer.py).
        """
        n_labeled = batch["data"].shape[0]
        unlabeled = next(self.dataloader_unlabeled)["data"]
        student_view, teacher_view = split_views(unlabeled, self.num_input_channels)
        data = torch.cat([batch["data"], student_view]).to(self.device, non_blocking=True)
        teacher_view = teacher_view.to(self.device, non_blocking=True)
        target = batch["target"]
        target = ([t.to(self.device, non_blocking=True) for t in target] if isinstance(target, list)
                  else target.to(self.device, non_blocking=True))
        weight = self.consistency_weight()

        self.optimizer.zero_grad(set_to_none=True)
        # Mixed precision on CUDA only, as nnU-Net does.
        autocast = torch.autocast(self.device.type) if self.device.type == "cuda" else dummy_context()
        with autocast:
            with torch.no_grad():
                self.teacher.eval()
                teacher_logits = full_resolution(self.teacher(teacher_view))
            output = self.network(data)
            total, supervised, consistency = mean_teacher_loss(output, n_labeled, target, teacher_logits,
                                                               self.loss, weight)
        if self.grad_scaler is not None:
            self.grad_scaler.scale(total).backward()
            self.grad_scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.network.parameters(), 12)
            self.grad_scaler.step(self.optimizer)
            self.grad_scaler.update()
        else:
            total.backward()
            torch.nn.utils.clip_grad_norm_(self.network.parameters(), 12)
            self.optimizer.step()
        ema_update(self.teacher, self.student(), self.ema_decay())
        self.ema_updates += 1
        return {"loss": total.detach().cpu().numpy(), "supervised_loss": supervised.detach().cpu().numpy(),
                "consistency_loss": consistency.detach().cpu().numpy()}

    def on_train_epoch_end(self, train_outputs: list[dict]):
        super().on_train_epoch_end(train_outputs)
        self.print_to_log_file(
            f"Mean Teacher: supervised loss {np.mean([o['supervised_loss'] for o in train_outputs]):.4f}, "
            f"consistency loss {np.mean([o['consistency_loss'] for o in train_outputs]):.6f}, "
            f"EMA updates {self.ema_updates}")

    # --- validation with the teacher -----------------------------------------------------------
    def validation_step(self, batch: dict) -> dict:
        with self.teacher_as_network():
            return super().validation_step(batch)

    def perform_actual_validation(self, save_probabilities: bool = False):
        with self.teacher_as_network():
            super().perform_actual_validation(save_probabilities)

    # --- checkpoints ---------------------------------------------------------------------------
    def save_checkpoint(self, filename: str) -> None:
        super().save_checkpoint(filename)
        if self.local_rank != 0 or self.disable_checkpointing:
            return
        # nnU-Net wrote the student as network_weights, the key the predictor loads: store the teacher there.
        checkpoint = checkpoints.load_checkpoint(filename)
        checkpoint[STUDENT_KEY] = checkpoint["network_weights"]
        checkpoint["network_weights"] = self.teacher.state_dict()
        checkpoint[STATE_KEY] = self.mean_teacher_state()
        partial = f"{filename}.{uuid.uuid4().hex[:8]}.tmp"
        torch.save(checkpoint, partial)
        os.replace(partial, filename)

    def load_checkpoint(self, filename_or_checkpoint) -> None:
        # nnU-Net restores optimiser, epoch and logs, and puts network_weights (the teacher) into the
        # student; the student's own weights are loaded afterwards.
        super().load_checkpoint(filename_or_checkpoint)
        checkpoint = filename_or_checkpoint
        if not isinstance(checkpoint, dict):
            checkpoint = checkpoints.load_checkpoint(checkpoint, map_location=self.device)
        if STATE_KEY not in checkpoint or STUDENT_KEY not in checkpoint:
            source = filename_or_checkpoint if isinstance(filename_or_checkpoint, str) else "given"
            raise ISLAError(f"checkpoint {source} holds no Mean Teacher state: resume {type(self).__name__} "
                            "only from its own checkpoints")
        state = checkpoint[STATE_KEY]
        settings = {k: state[k] for k in ("consistency_weight_max", "rampup_epochs", "ema_decays")}
        expected = {k: v for k, v in self.mean_teacher_state().items() if k in settings}
        if settings != expected:
            raise ISLAError(f"checkpoint was trained with Mean Teacher settings {settings}, this one uses "
                            f"{expected}: resume with the trainer that wrote it")
        self.teacher.load_state_dict(checkpoint["network_weights"])
        self.student().load_state_dict(checkpoint[STUDENT_KEY])
        self.ema_updates = int(state["ema_updates"])
