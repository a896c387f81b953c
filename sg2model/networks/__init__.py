"""StyleGAN2 networks: mapping, synthesis (orig/skip/resnet), generator and discriminator."""

from __future__ import annotations

from sg2model.networks.discriminator import Discriminator
from sg2model.networks.mapping import MappingNetwork, mix_styles, truncate
from sg2model.networks.synthesis import Generator, SynthesisNetwork

__all__ = ["Discriminator", "Generator", "MappingNetwork", "SynthesisNetwork", "mix_styles", "truncate"]
