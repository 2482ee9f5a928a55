"""ISLA's learning-rate schedule: linear decay from 5e-4 to 5e-6 over the training (Roca et al., §3.2.4)."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler


class LinearDecayLR(LRScheduler):
    """Learning rate ``initial + (final - initial) * epoch / (num_epochs - 1)``; ``final`` at the last epoch.

    nnU-Net calls ``step(current_epoch)`` at the start of every epoch, so the rate is a function of
    the epoch alone and a resumed run continues on the same line.

    Example:
        >>> import torch
        >>> opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=5e-4)
        >>> sched = LinearDecayLR(opt, 5e-4, 5e-6, num_epochs=3)
        >>> [round(sched.lr_at(e), 8) for e in range(3)]
        [0.0005, 0.0002525, 5e-06]
    """

    def __init__(self, optimizer: Optimizer, initial_lr: float, final_lr: float, num_epochs: int):
        if num_epochs < 1:
            raise ValueError(f"num_epochs must be >= 1, got {num_epochs}")
        self.initial_lr, self.final_lr, self.num_epochs = initial_lr, final_lr, num_epochs
        # torch's constructor takes one step: it lands on epoch 0, the rate the optimizer starts with.
        self.ctr = -1
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        fraction = min(max(epoch, 0), self.num_epochs - 1) / max(self.num_epochs - 1, 1)
        return self.initial_lr + (self.final_lr - self.initial_lr) * fraction

    def get_lr(self):
        return [self.lr_at(self.ctr) for _ in self.optimizer.param_groups]

    def step(self, current_step: int | None = None):
        self.ctr = self.ctr + 1 if current_step is None else current_step
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(self.ctr)
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
