"""sg2eval: measure, compare and attribute StyleGAN-family generators as the StyleGAN2 paper does."""

from __future__ import annotations

__version__ = "0.1.0"
