"""sg2eval: measure, compare and attribute StyleGAN-family generators as the StyleGAN2 paper does."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sg2eval.api import compute_features, fid, inception_score, kid, precision_recall
    from sg2eval.attribution import attribute_images, calibrate_network
    from sg2eval.incremental import FID, KID, PrecisionRecall
    from sg2eval.metrics.ppl import ppl
    from sg2eval.metrics.separability import separability
    from sg2eval.projector import Projector, ProjectorConfig

__version__ = "0.1.0"

# Public API -> the module that defines it, imported on first use so ``import sg2eval`` stays light.
_API = {
    "fid": "sg2eval.api",
    "kid": "sg2eval.api",
    "precision_recall": "sg2eval.api",
    "inception_score": "sg2eval.api",
    "compute_features": "sg2eval.api",
    "FID": "sg2eval.incremental",
    "KID": "sg2eval.incremental",
    "PrecisionRecall": "sg2eval.incremental",
    "ppl": "sg2eval.metrics.ppl",
    "separability": "sg2eval.metrics.separability",
    "Projector": "sg2eval.projector",
    "ProjectorConfig": "sg2eval.projector",
    "attribute_images": "sg2eval.attribution",
    "calibrate_network": "sg2eval.attribution",
}
__all__ = [
    "__version__",
    "fid",
    "kid",
    "precision_recall",
    "inception_score",
    "compute_features",
    "FID",
    "KID",
    "PrecisionRecall",
    "ppl",
    "separability",
    "Projector",
    "ProjectorConfig",
    "attribute_images",
    "calibrate_network",
]


def __dir__() -> list[str]:
    """The public API (loaded lazily, so ``dir(sg2eval)`` lists it without importing it)."""
    return sorted({*__all__, *(name for name in globals() if name.startswith("__"))})


def __getattr__(name: str) -> object:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'sg2eval' has no attribute {name!r}")
