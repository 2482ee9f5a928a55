"""nnU-Net trainers implementing ISLA's training recipe (the classes nnU-Net finds are in variants)."""
