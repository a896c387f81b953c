"""Custom detectors: a TorchScript file (``torchscript:PATH``) or Python callable, uint8 images -> features.

A custom detector receives the uint8 batch ``[N, 3, H, W]`` on its device exactly as given (no resize, no
scaling; those are the callable's business) and must return ``[N, D]`` features. Custom weights have no
published hash, so they are always recorded as unverified; their SHA-256 still enters the cache key.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from sg2eval.detectors.base import Detector
from sg2eval.errors import Sg2evalError
from sg2eval.weights import WeightsFile, file_sha256, load_torchscript_file, sniff_format


def load_torchscript(path: str | Path, device: torch.device) -> torch.jit.ScriptModule:
    """``torch.jit.load`` onto ``device`` in eval mode, with a one-line error for non-TorchScript files."""
    if sniff_format(path) != "torchscript":
        raise Sg2evalError(f"{path} is not a TorchScript archive; save the detector with torch.jit.save")
    module = load_torchscript_file(path, device)
    assert isinstance(module, torch.jit.ScriptModule)
    return module.eval()


class TorchScriptDetector(Detector):
    """``module(images_uint8, **call_kwargs) -> [N, D]`` for a TorchScript file (custom or NVIDIA's)."""

    def __init__(
        self,
        weights: WeightsFile,
        device: str | torch.device = "cpu",
        name: str | None = None,
        call_kwargs: dict[str, Any] | None = None,
        feature_dim: int | None = None,
        preprocess_id: str | None = None,
    ) -> None:
        super().__init__(weights, device)
        self.script = load_torchscript(weights.path, self.device)
        self.call_kwargs = dict(call_kwargs or {})
        self.name = name or f"torchscript:{weights.path}"
        self.feature_dim = feature_dim
        self.preprocess_id = preprocess_id or "torchscript-internal"

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.script(images, **self.call_kwargs)


def custom_torchscript(path: str, device: str | torch.device = "cpu") -> TorchScriptDetector:
    """``torchscript:PATH``: the file's SHA-256 is recorded; it is unverified (no published hash)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise Sg2evalError(f"TorchScript detector {file} does not exist; check the path after 'torchscript:'")
    weights = WeightsFile(
        "custom", file, file_sha256(file), False, "explicit", "custom file, no published hash"
    )
    return TorchScriptDetector(weights, device, name=f"torchscript:{file}")


class CallableDetector(Detector):
    """A Python callable ``uint8 images [N, 3, H, W] -> features [N, D]`` used as a detector."""

    preprocess_id = "callable"

    def __init__(
        self,
        fn: Callable[[torch.Tensor], Any],
        device: str | torch.device = "cpu",
        name: str | None = None,
        feature_dim: int | None = None,
    ) -> None:
        super().__init__(None, device)
        self.fn = fn
        self.name = name or f"callable:{getattr(fn, '__qualname__', type(fn).__name__)}"
        self.feature_dim = feature_dim

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(self.fn(images))
