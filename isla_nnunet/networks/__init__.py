"""Plain torch modules of the ISLA networks (no nnU-Net trainer or I/O imports)."""

from isla_nnunet.networks.blocks import ConvOps, ResBlock, ResInputBlock, StdBlock, StdDownBlock
from isla_nnunet.networks.padding import SamePadConv, same_padding
from isla_nnunet.networks.unet import ISLAUNet

__all__ = ["ConvOps", "ISLAUNet", "ResBlock", "ResInputBlock", "SamePadConv", "StdBlock", "StdDownBlock",
           "same_padding"]
