"""Activation memory of a network, measured rather than estimated by formula.

nnU-Net's planners size the batch from a network's "feature map size", the number of activation
elements one sample keeps during training. Here it is measured: the network runs once on PyTorch's
``meta`` device (shapes only: no memory, no arithmetic) and every floating-point tensor autograd saves
for the backward pass is counted once, parameters excluded. So whatever a block holds (attention
maps, residual shortcuts, normalisation statistics, deep-supervision heads upsampled to full
resolution) is counted without a formula per block to keep in step with the code; the outputs
count too (the loss keeps them until the backward pass). Each named part reports its own share:
saved tensors are charged to the innermost part running when they are saved.

Example:
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Conv3d(1, 2, 1), nn.ReLU())
    >>> activation_elements(net, (1, 2, 2, 2))        # the conv's input (8), the ReLU's output (16)
    24
    >>> activation_elements(net, (1, 2, 2, 2), {"conv": net[0]})
    {'conv': 8, 'other': 16, 'outputs': 0}
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import torch
from torch import nn


def activation_elements(network: nn.Module, input_shape: Sequence[int],
                        parts: Mapping[str, nn.Module] | None = None) -> int | dict[str, int]:
    """Elements of the activations one training sample keeps for the backward pass.

    Args:
        network: any module; it is copied to the meta device, the original is untouched.
        input_shape: (channels, *spatial) of one sample.
        parts: named submodules of ``network`` to report separately; the rest is ``"other"``.

    Returns:
        The total, or with ``parts`` a dict of elements per part, ``"other"`` (saved outside the parts)
        and ``"outputs"`` (outputs not already saved, e.g. deep-supervision heads upsampled).
    """
    names = {id(module): name for name, module in (parts or {}).items()}
    meta = copy.deepcopy(network).to("meta").train()
    # the copy's modules in the same order as the original's, to find the parts in it
    copied = dict(zip((id(m) for m in network.modules()), meta.modules(), strict=True))
    charged = {name: 0 for name in (parts or {})} | {"other": 0, "outputs": 0}
    running: list[str] = []
    hooks = []

    def enter(name: str):
        def hook(_module, _inputs) -> None:
            running.append(name)
        return hook

    def leave(_module, _inputs, _output) -> None:
        running.pop()

    for original_id, name in names.items():
        hooks.append(copied[original_id].register_forward_pre_hook(enter(name)))
        hooks.append(copied[original_id].register_forward_hook(leave))
    parameters = {id(p) for p in meta.parameters()}
    kept: dict[int, torch.Tensor] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        # Tensors stay referenced in `kept`, so an id is never reused for another tensor while counting.
        if tensor.dtype.is_floating_point and id(tensor) not in parameters and id(tensor) not in kept:
            kept[id(tensor)] = tensor
            charged[running[-1] if running else "other"] += tensor.numel()
        return tensor

    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            outputs = meta(torch.empty(1, *input_shape, device="meta"))
        for output in outputs if isinstance(outputs, (list, tuple)) else [outputs]:
            if isinstance(output, torch.Tensor) and output.dtype.is_floating_point and id(output) not in kept:
                kept[id(output)] = output
                charged["outputs"] += output.numel()
    finally:
        for hook in hooks:
            hook.remove()
    return charged if parts is not None else sum(charged.values())
