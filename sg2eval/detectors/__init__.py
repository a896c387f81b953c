"""Feature detectors by name: ``get_detector(name_or_path, weights=None, device='cpu') -> Detector``.

Detectors live in an open registry (:data:`DETECTORS`, :func:`register_detector`; docs/CONTRACTS.md,
"Detectors"). The toolkit registers:

- ``inception-v3-tf``: Inception-v3 pool3 (2048) for FID/KID (:mod:`sg2eval.detectors.inception`);
- ``inception-v3-tf-logits``: its 1008 class logits without the output bias, for the Inception Score;
- ``vgg16-nv`` / ``vgg16-tv``: VGG16 fc2 (4096) for precision/recall (:mod:`sg2eval.detectors.vgg16`).

Other packages add theirs as entry points of the group ``sg2eval.detectors`` (the built-in default's
``shapes-features`` does). Beside registered names, ``get_detector`` takes ``torchscript:PATH`` (or the path
of an existing TorchScript file) and a Python callable ``uint8 images -> features``.

LPIPS and other perceptual distances live in :mod:`sg2eval.detectors.lpips` (``get_lpips``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from sg2eval.detectors.base import Detector, tf1_resize_bilinear
from sg2eval.detectors.inception import InceptionDetector, InceptionLogitsDetector, inception_weights
from sg2eval.detectors.torchscript import CallableDetector, TorchScriptDetector, custom_torchscript
from sg2eval.detectors.vgg16 import vgg16_detector
from sg2eval.registry import Registry

#: ``factory(weights: str | PathLike | None, device: torch.device | str) -> Detector``.
DetectorFactory = Callable[[Any, Any], Detector]
DETECTORS: Registry[DetectorFactory] = Registry("detector", "sg2eval.detectors")
TORCHSCRIPT_PREFIX = "torchscript:"

__all__ = [
    "DETECTORS",
    "CallableDetector",
    "Detector",
    "TorchScriptDetector",
    "get_detector",
    "register_detector",
    "tf1_resize_bilinear",
]


def register_detector(name: str, factory: DetectorFactory, *, replace: bool = False) -> None:
    """Make ``get_detector(name)`` build ``factory(weights, device)``."""
    DETECTORS.register(name, factory, replace=replace)


def _inception(weights: str | os.PathLike[str] | None, device: torch.device | str) -> Detector:
    return InceptionDetector(inception_weights(weights), device)


def _inception_logits(weights: str | os.PathLike[str] | None, device: torch.device | str) -> Detector:
    return InceptionLogitsDetector(inception_weights(weights), device)


register_detector("inception-v3-tf", _inception)
register_detector("inception-v3-tf-logits", _inception_logits)
register_detector("vgg16-nv", functools.partial(vgg16_detector, "vgg16-nv"))
register_detector("vgg16-tv", functools.partial(vgg16_detector, "vgg16-tv"))


def get_detector(
    name_or_path: str | Callable[[torch.Tensor], Any],
    weights: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
) -> Detector:
    """Build a detector. ``weights`` names an explicit weight file (any supported format, told apart by
    content); without it the file is found by :func:`sg2eval.weights.find_weights`."""
    if callable(name_or_path):
        return CallableDetector(name_or_path, device)
    name = str(name_or_path)
    if name.startswith(TORCHSCRIPT_PREFIX):
        return custom_torchscript(name[len(TORCHSCRIPT_PREFIX) :], device)
    if name not in DETECTORS and Path(name).expanduser().is_file():
        return custom_torchscript(name, device)
    return DETECTORS.get(name)(weights, device)
