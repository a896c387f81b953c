"""Feature detectors by name: ``get_detector(name_or_path, weights=None, device='cpu') -> Detector``.

Names (docs/CONTRACTS.md, "Detectors"):

- ``inception-v3-tf``: Inception-v3 pool3 (2048) for FID/KID (:mod:`sg2eval.detectors.inception`);
- ``vgg16-nv`` / ``vgg16-tv``: VGG16 fc2 (4096) for precision/recall (:mod:`sg2eval.detectors.vgg16`);
- ``torchscript:PATH`` (or the path of an existing TorchScript file): a custom detector;
- a Python callable ``uint8 images -> features``.

LPIPS lives in :mod:`sg2eval.detectors.lpips` (``get_lpips``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from sg2eval.detectors.base import Detector, tf1_resize_bilinear
from sg2eval.detectors.inception import InceptionDetector, inception_weights
from sg2eval.detectors.torchscript import CallableDetector, TorchScriptDetector, custom_torchscript
from sg2eval.detectors.vgg16 import vgg16_detector
from sg2eval.errors import Sg2evalError

DETECTOR_NAMES = ("inception-v3-tf", "vgg16-nv", "vgg16-tv")

__all__ = [
    "DETECTOR_NAMES",
    "CallableDetector",
    "Detector",
    "TorchScriptDetector",
    "get_detector",
    "tf1_resize_bilinear",
]


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
    if name == "inception-v3-tf":
        return InceptionDetector(inception_weights(weights), device)
    if name in ("vgg16-nv", "vgg16-tv"):
        return vgg16_detector(name, weights, device)
    if name == "shapes-features":  # the built-in default's in-domain detector (docs/demo.md)
        from sg2eval.builtin.indomain import in_domain_detector

        return in_domain_detector(weights, device)
    if name.startswith("torchscript:"):
        return custom_torchscript(name[len("torchscript:") :], device)
    if Path(name).expanduser().is_file():
        return custom_torchscript(name, device)
    raise Sg2evalError(
        f"unknown detector {name!r}; use one of {', '.join(DETECTOR_NAMES)}, shapes-features, "
        "torchscript:PATH or a Python callable"
    )
