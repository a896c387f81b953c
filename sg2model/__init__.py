"""sg2model: StyleGAN2 networks, presets and network files (our own PyTorch implementation).

``Generator.from_config('F', resolution=1024)``, ``Discriminator.from_config('F', 1024)``,
``save_network(path, G=..., D=..., G_ema=...)`` and ``load_network(path) -> NetworkBundle``; see
docs/networks.md.
"""

from __future__ import annotations

from sg2model import configs
from sg2model.io import NetworkBundle, load_network, save_network
from sg2model.networks import Discriminator, Generator, mix_styles

__all__ = [
    "Discriminator",
    "Generator",
    "NetworkBundle",
    "configs",
    "load_network",
    "mix_styles",
    "save_network",
]
