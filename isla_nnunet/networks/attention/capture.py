"""Reading the attention coefficients of an ISLA U-Net with forward hooks.

Every attention module computes its weights in an
:class:`~isla_nnunet.networks.attention.coefficients.AttentionCoefficients` submodule; a forward hook
on each records its output during one forward pass. Maps are named ``<slot>_level<L>_<kind>``:

* ``slot``: ``gate`` (attention gates, AGs/AGh), ``skip`` (SE, CBAM on the skip connection) or
  ``encoder`` (modules in the encoder path);
* ``L``: resolution level, 1 = full resolution, as the ``att1``...``att5`` of ISLA's Appendix E
  (Roca et al.);
* ``kind``: ``spatial`` (B, 1, *S), ``hybrid`` (B, C, *S) or ``channel`` (B, C, 1, ..., 1).

Example:
    >>> import torch
    >>> from isla_nnunet.networks import ISLAUNet
    >>> from isla_nnunet.networks.attention import AttentionGate
    >>> net = ISLAUNet(2, 2, (8, 8, 8), [(1, 3, 3)] * 3, [(1, 1, 1), (1, 2, 2), (1, 2, 2)],
    ...                gate_op=AttentionGate)
    >>> maps = capture_attention_maps(net, torch.zeros(1, 2, 2, 8, 8))
    >>> [(m.name, tuple(m.coefficients.shape)) for m in maps]
    [('gate_level1_spatial', (1, 1, 2, 8, 8)), ('gate_level2_spatial', (1, 1, 2, 4, 4))]
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from isla_nnunet.networks.attention.coefficients import AttentionCoefficients

SLOTS = ("skip", "gate")


@dataclass(frozen=True)
class AttentionMap:
    """Coefficients of one attention module for one forward pass (detached, on the CPU)."""

    slot: str
    level: int
    kind: str
    coefficients: torch.Tensor

    @property
    def name(self) -> str:
        return f"{self.slot}_level{self.level}_{self.kind}"

    @property
    def is_spatial(self) -> bool:
        return self.kind != "channel"


def coefficient_modules(network: nn.Module) -> list[tuple[str, int, AttentionCoefficients]]:
    """``(slot, level, module)`` for every coefficient module in the attention slots of an ISLA U-Net.

    Raises:
        TypeError: ``network`` lacks the ISLA U-Net's attention slots (``encoder.skip_attention``,
            ``decoder.gates``).
    """
    try:
        encoder, decoder = network.encoder, network.decoder
        per_slot = {"skip": list(encoder.skip_attention), "gate": list(decoder.gates or [])}
    except AttributeError:
        raise TypeError(f"{type(network).__name__} has no ISLA U-Net attention slots") from None
    n_skips = len(per_slot["skip"])
    found = []
    for slot in SLOTS:
        for index, module in enumerate(per_slot[slot]):
            # Encoder modules are listed finest first; decoder gates coarsest first.
            level = index + 1 if slot != "gate" else n_skips - index
            found += [(slot, level, m) for m in module.modules() if isinstance(m, AttentionCoefficients)]
    return found


@contextlib.contextmanager
def recording_attention(network: nn.Module) -> Iterator[list[AttentionMap]]:
    """Within the block, every forward pass of ``network`` appends its attention maps to the yielded list."""
    maps: list[AttentionMap] = []
    handles = []
    for slot, level, module in coefficient_modules(network):
        def hook(mod, args, output, slot=slot, level=level):
            maps.append(AttentionMap(slot, level, mod.kind, output.detach().float().cpu()))
        handles.append(module.register_forward_hook(hook))
    try:
        yield maps
    finally:
        for handle in handles:
            handle.remove()


def capture_attention_maps(network: nn.Module, x: torch.Tensor) -> list[AttentionMap]:
    """Attention maps of one inference pass (eval mode, no gradients; the mode is restored afterwards).

    Args:
        network: an :class:`~isla_nnunet.networks.unet.ISLAUNet` (any attention variant).
        x: network input (B, C_in, *S).

    Returns:
        The maps sorted by slot, level and kind; empty when the network has no attention modules.
    """
    was_training = network.training
    network.eval()
    try:
        with torch.no_grad(), recording_attention(network) as maps:
            network(x)
    finally:
        network.train(was_training)
    return sorted(maps, key=lambda m: (SLOTS.index(m.slot), m.level, m.kind))
