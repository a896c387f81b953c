"""A tiny random StyleGAN2 generator shared by the metric and projector tests."""

from __future__ import annotations

import torch

from sg2model import Generator


def tiny_sg2_generator(
    res: int = 32, noise_strength: float = 0.5, c_dim: int = 0, affine_scale: float = 1.0
) -> Generator:
    """16-d latents, at most 32 channels, 2 mapping layers, seeded; every ``noise_strength`` set to the given
    value (so noise inputs are visible) and the style affine weights multiplied by ``affine_scale``."""
    torch.manual_seed(0)
    G = Generator(
        z_dim=16,
        c_dim=c_dim,
        w_dim=16,
        img_resolution=res,
        img_channels=3,
        channel_base=256,
        channel_max=32,
        mapping_kwargs={"num_layers": 2},
    ).eval()
    with torch.no_grad():
        for name, param in G.named_parameters():
            if name.endswith("noise_strength"):
                param.fill_(noise_strength)
            if name.endswith("affine.weight"):
                param.mul_(affine_scale)
    return G
