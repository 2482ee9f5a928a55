"""ISLA on nnU-Net v2."""
