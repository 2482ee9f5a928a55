"""The training recipe of Clèrigues et al. (2019), §3.3-3.4, as an nnU-Net trainer.

* patches of the plans' size (``CleriguesPlans``: 24 x 24 x 16 voxels) drawn by
  :class:`~isla_nnunet.training.balanced_loader.BalancedPatchDataLoader`, ``patches_per_case`` per case
  and pass, half on lesion, lesion patches reflected or rotated; no other augmentation;
* :class:`~isla_nnunet.networks.clerigues.CleriguesUNet` from the plans, no deep supervision;
* focal loss with alpha 0.25 / 0.75 and gamma 2 (:class:`~isla_nnunet.losses.BinaryFocalLoss`);
* Adadelta with torch's defaults (lr 1.0, rho 0.9, eps 1e-6), chosen by the paper to avoid a
  learning-rate search, at a constant rate; on the CPU too, nnU-Net's training step runs with a
  gradient scaler (:func:`cpu_grad_scaler`), so a step whose gradients hold inf or NaN is skipped, as on
  CUDA, instead of turning every weight NaN (a network without normalisation layers at rate 1.0 can
  meet one); the log counts the skipped steps;
* an epoch is one pass over the planned patches of the training cases (nnU-Net's is 250 batches), and
  validation is one pass over the validation cases' balanced patches (seeded, so the same every epoch);
* early stopping on the validation L1 loss plus error rate, mean over the validation patches of
  ``|p - y|`` and of ``(p > 0.5) != y``: after ``patience`` (8) epochs without a new minimum, training
  stops, the weights of the best epoch are restored and written as ``checkpoint_final.pth``
  through nnU-Net's own end of training. ``max_epochs`` bounds a run that never stops; its last epoch
  also ends with the best epoch's weights. The monitored
  values are logged with nnU-Net's other curves (key ``val_l1_error``), so a run resumed with ``--c``
  continues the count. A NaN value is never a new minimum.

CPU: the network runs under the process's CPU setting (bf16 autocast where native,
:mod:`isla_nnunet.networks.cpu_execution`); the loss is computed in float32.
"""

from __future__ import annotations

import math
from os.path import join

import numpy as np
import torch
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
from nnunetv2.utilities.default_n_proc_DA import get_allowed_n_proc_DA

from isla_nnunet import losses
from isla_nnunet.networks.cpu_execution import CPUExecution
from isla_nnunet.training.balanced_loader import BalancedPatchDataLoader
from isla_nnunet.training.one_pass import augmenter
from isla_nnunet.training.schedule import LinearDecayLR

_DEFAULT_DEVICE = torch.device("cuda")
MONITOR = "val_l1_error"
BEST_WEIGHTS = "early_stopping_best_weights.pth"
VALIDATION_SEED = 12345


class _EarlyStop(Exception):
    pass


def epochs_since_best(history: list[float]) -> int:
    """Epochs after the (first) minimum of ``history``: 0 when the last value is the best so far.

    NaN (a validation pass on diverged weights) ranks after every number, so it is never the best.

    Example:
        >>> epochs_since_best([0.5, 0.4, 0.45, 0.41]), epochs_since_best([0.5, 0.3])
        (2, 0)
        >>> epochs_since_best([0.5, float("nan")])
        1
    """
    values = np.asarray(history, dtype=float)
    return len(values) - 1 - int(np.argmin(np.where(np.isnan(values), np.inf, values)))


def cpu_grad_scaler() -> torch.GradScaler:
    """nnU-Net's gradient scaling for a CPU run, for its skipping of non-finite steps only.

    Scale 1 and never grown (bf16 and float32 have the range that float16 lacks, so nothing needs
    scaling up); each skipped step halves the scale, so it counts them (:func:`skipped_steps`).

    Example:
        >>> weight = torch.nn.Parameter(torch.ones(1))
        >>> optimizer, scaler = torch.optim.Adadelta([weight]), cpu_grad_scaler()
        >>> scaler.scale(weight.sum() * float("nan")).backward()
        >>> scaler.step(optimizer); scaler.update(); weight.item(), skipped_steps(scaler)
        (1.0, 1)
    """
    return torch.GradScaler("cpu", init_scale=1.0, growth_interval=2**31 - 1)


def skipped_steps(scaler: torch.GradScaler) -> int:
    """Steps a :func:`cpu_grad_scaler` skipped: the number of times its scale was halved."""
    return round(-math.log2(scaler.get_scale()))


class CleriguesTrainer(nnUNetTrainer):
    """Clèrigues et al.'s training for ``CleriguesPlans`` (module docs); variants change class attributes."""

    patches_per_case = 200
    patience = 8
    max_epochs = 200

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = _DEFAULT_DEVICE):
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.num_epochs = self.max_epochs
        self.enable_deep_supervision = False
        self.initial_lr = 1.0
        self.save_every = 1  # checkpoint_latest after every pass (nnU-Net: every 50), so --c loses at most one
        if self.device.type == "cpu":   # nnU-Net makes one for CUDA only; its checkpoints keep it either way
            self.grad_scaler = cpu_grad_scaler()
        self.logger.local_logger.my_fantastic_logging.setdefault(MONITOR, [])

    @classmethod
    def build_network_architecture(cls, plans_manager, configuration_manager, num_input_channels,
                                   num_output_channels, enable_deep_supervision: bool = True) -> torch.nn.Module:
        network = super().build_network_architecture(plans_manager, configuration_manager, num_input_channels,
                                                     num_output_channels, enable_deep_supervision=False)
        return CPUExecution.from_environment().apply(network)

    def set_deep_supervision_enabled(self, enabled: bool):
        # nnU-Net switches deep supervision off and on around its final validation; this network has a
        # single output, so there is nothing to switch.
        pass

    def _build_loss(self):
        return losses.BinaryFromTwoClassLogits(losses.BinaryFocalLoss(0.25, 0.75, 2.0))

    def configure_optimizers(self):
        optimizer = torch.optim.Adadelta(self.network.parameters(), lr=self.initial_lr)
        return optimizer, LinearDecayLR(optimizer, self.initial_lr, self.initial_lr, self.num_epochs)

    def configure_rotation_dummyDA_mirroring_and_inital_patch_size(self):
        # Lesion patches are reflected and rotated by the loader; nothing else, so no margin is needed.
        self.inference_allowed_mirroring_axes = None
        return None, False, tuple(self.configuration_manager.patch_size), None

    def get_dataloaders(self):
        patch_size = tuple(self.configuration_manager.patch_size)
        # nnU-Net's validation transforms: labels -1 (outside the brain's box) become 0, nothing else.
        transforms = self.get_validation_transforms(None, is_cascaded=False,
                                                    foreground_labels=self.label_manager.foreground_labels)
        workers = get_allowed_n_proc_DA()
        counts = (workers, max(1, workers // 2) if workers else 0)
        dataset_tr, dataset_val = self.get_tr_and_val_datasets()
        train = BalancedPatchDataLoader(dataset_tr, self.batch_size, patch_size, self.label_manager,
                                        self.patches_per_case, transforms=transforms, num_workers=counts[0],
                                        seed=int(np.random.randint(0, 2**31 - 1)))
        val = BalancedPatchDataLoader(dataset_val, self.batch_size, patch_size, self.label_manager,
                                      self.patches_per_case, transforms=transforms, num_workers=counts[1],
                                      seed=VALIDATION_SEED, same_patches_every_pass=True)
        self.num_iterations_per_epoch = train.batches_per_pass
        self.num_val_iterations_per_epoch = val.batches_per_pass
        return augmenter(train, counts[0], self.device), augmenter(val, counts[1], self.device)

    def on_validation_epoch_start(self):
        super().on_validation_epoch_start()
        self._monitored = []

    def validation_step(self, batch: dict) -> dict:
        outputs = super().validation_step(batch)
        data = batch["data"].to(self.device, non_blocking=True)
        target = batch["target"].to(self.device, non_blocking=True)[:, 0].float()
        probability = torch.softmax(self.network(data).float(), dim=1)[:, 1]
        l1 = (probability - target).abs().mean()
        error_rate = ((probability > 0.5).float() != target).float().mean()
        self._monitored.append(float(l1 + error_rate))
        return outputs

    def on_validation_epoch_end(self, val_outputs):
        super().on_validation_epoch_end(val_outputs)
        self.logger.log(MONITOR, float(np.mean(self._monitored)), self.current_epoch)

    def on_epoch_end(self):
        history = list(self.logger.get_value(MONITOR, step=None))
        epoch = self.current_epoch
        super().on_epoch_end()
        waited = epochs_since_best(history)
        if waited == 0:
            torch.save(self.network.state_dict(), join(self.output_folder, BEST_WEIGHTS))
        self.print_to_log_file(f"validation L1 + error rate {history[-1]:.4f} (best {np.nanmin(history):.4f}, "
                               f"{waited} of {self.patience} epochs without improvement)")
        skipped = skipped_steps(self.grad_scaler) if self.device.type == "cpu" else 0
        if skipped:
            self.print_to_log_file(f"{skipped} training steps skipped so far: their gradients held inf or NaN")
        last = epoch == self.num_epochs - 1
        if waited and (last or waited >= self.patience):
            self.network.load_state_dict(torch.load(join(self.output_folder, BEST_WEIGHTS), map_location=self.device,
                                                    weights_only=True))
            reason = "last epoch" if last else "early stopping"
            self.print_to_log_file(f"{reason} after epoch {epoch}: the weights of epoch {epoch - waited} are kept")
            if not last:
                raise _EarlyStop

    def run_training(self):
        try:
            super().run_training()
        except _EarlyStop:
            self.on_train_end()


class CleriguesTrainer_CPU(CleriguesTrainer):
    """A CPU budget: 16 patches per case and pass, at most 4 passes (the recipe otherwise unchanged).

    One step of 16 patches takes 6-10 s on 2 AVX2 cores (docs/clerigues.md), so the paper's open-ended
    run does not fit; the best of the 4 passes' weights is kept (the validation monitor decides).
    """

    patches_per_case = 16
    max_epochs = 4


class CleriguesTrainer_2epochs(CleriguesTrainer):
    """Two epochs of 16 patches per case: a smoke test of the whole pipeline, not a model."""

    patches_per_case = 16
    max_epochs = 2
