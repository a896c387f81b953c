"""sg2eval: measure, compare and attribute StyleGAN-family generators as the StyleGAN2 paper does."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sg2eval.api import compute_features, fid, kid, precision_recall

__version__ = "0.1.0"
__all__ = ["__version__", "compute_features", "fid", "kid", "precision_recall"]

# Public metric API, imported on first use so ``import sg2eval`` stays light (see sg2eval/api.py).
_API = ("fid", "kid", "precision_recall", "compute_features")


def __getattr__(name: str) -> object:
    if name in _API:
        from sg2eval import api

        return getattr(api, name)
    raise AttributeError(f"module 'sg2eval' has no attribute {name!r}")
