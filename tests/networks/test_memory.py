"""Measured activation memory (networks.memory) on tiny networks with hand-counted saved tensors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from isla_nnunet.networks.memory import activation_elements
from isla_nnunet.networks.unet import ISLAUNet


@pytest.mark.parametrize(("network", "shape", "expected"), [
    # Conv saves its input (1 x 8); ReLU its output (2 x 8); the output is that same tensor.
    (nn.Sequential(nn.Conv3d(1, 2, 1), nn.ReLU()), (1, 2, 2, 2), 8 + 16),
    # + GroupNorm saves its input (16), mean and 1/std per group (1 + 1); a LeakyReLU that is not in place
    # saves its input (16), and its output (16) is what the loss keeps.
    (nn.Sequential(nn.Conv3d(1, 2, 1), nn.GroupNorm(1, 2), nn.LeakyReLU(0.3)), (1, 2, 2, 2), 8 + 16 + 2 + 16 + 16),
    # in place, the LeakyReLU saves its result, which is also the output
    (nn.Sequential(nn.Conv3d(1, 2, 1), nn.GroupNorm(1, 2), nn.LeakyReLU(0.3, inplace=True)), (1, 2, 2, 2),
     8 + 16 + 2 + 16),
    # A bare convolution: its input, and its output, which the loss would keep (3 x 2 x 4 x 4).
    (nn.Conv3d(2, 3, 1), (2, 2, 4, 4), 64 + 96),
    # Parameters are not activations: a linear layer keeps its input (4) and output (5), not its weight.
    (nn.Linear(4, 5), (4,), 4 + 5),
])
def test_hand_counted_saved_tensors(network, shape, expected):
    assert activation_elements(network, shape) == expected


def test_parts_add_up_and_the_original_stays_where_it_was():
    net = nn.Sequential(nn.Conv3d(1, 2, 1), nn.GroupNorm(1, 2), nn.LeakyReLU(0.3))
    parts = activation_elements(net, (1, 2, 2, 2), {"conv": net[0], "norm": net[1]})
    assert parts == {"conv": 8, "norm": 18, "other": 16, "outputs": 16}
    assert sum(parts.values()) == activation_elements(net, (1, 2, 2, 2))
    assert net[0].weight.device.type == "cpu"


def test_every_block_of_the_isla_unet_reports_its_share():
    kwargs = {"kernel_sizes": [(1, 3, 3)] * 3, "strides": [(1, 1, 1), (1, 2, 2), (1, 2, 2)]}
    plain = ISLAUNet(2, 2, (8, 16, 32), **kwargs)
    supervised = ISLAUNet(2, 2, (8, 16, 32), deep_supervision=True, **kwargs)
    sizes = plain.feature_map_sizes((4, 16, 16))
    assert {k for k in sizes if sizes[k]} >= {"encoder.stages.0", "encoder.stages.1", "encoder.stages.2",
                                             "decoder.stages.0", "decoder.stages.1"}
    # The first encoder stage, two [same-padded conv, GroupNorm(8), LeakyReLU in place]: each convolution
    # saves its padded input (1 x 3 x 3 kernel: 4 x 18 x 18), each GroupNorm its input and 8 + 8 statistics,
    # each LeakyReLU its result.
    voxels, padded = 4 * 16 * 16, 4 * 18 * 18
    per_norm_and_relu = 8 * voxels + 2 * 8 + 8 * voxels
    assert sizes["encoder.stages.0"] == 2 * padded + per_norm_and_relu + 8 * padded + per_norm_and_relu
    assert plain.compute_conv_feature_map_size((4, 16, 16)) == sum(sizes.values())
    # deep supervision keeps two more two-class heads at full resolution for the loss
    extra = supervised.compute_conv_feature_map_size((4, 16, 16)) - plain.compute_conv_feature_map_size((4, 16, 16))
    assert extra >= 2 * 2 * voxels


def test_the_planner_sizes_the_batch_for_the_most_demanding_variant():
    from isla_nnunet.networks.presets import ATTENTION_SLOTS, isla_arch_kwargs
    from isla_nnunet.nnunet.isla_planner import largest_feature_map_size, variant_network

    architecture = isla_arch_kwargs((8, 16, 32))
    each = {a: variant_network(architecture, 2, a).compute_conv_feature_map_size((32, 224, 192))
            for a in ATTENTION_SLOTS}
    assert largest_feature_map_size(architecture, 2) == max(each.values())
    assert each["seags"] > each["none"] and each["cbam"] > each["none"]   # attention costs memory
    assert torch.get_default_device().type == "cpu"
