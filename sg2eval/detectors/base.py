"""What every feature detector shares: input checks, device handling, TF32 off, provenance.

A detector maps uint8 images ``[N, C, H, W]`` to float32 features ``[N, D]`` (returned on the CPU, ready for
the metric functions, which work on arrays). Grayscale inputs are repeated to three channels, as the
official metric code does before its detectors.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

import torch

from sg2eval.errors import Sg2evalError
from sg2eval.weights import WeightsFile


@contextlib.contextmanager
def tf32_disabled() -> Iterator[None]:
    """Turn TF32 matmuls and convolutions off for the block (docs/facts.md, "Metrics / Common": the official
    PyTorch metric code disables TF32 on Ampere/Hopper GPUs), restoring the previous settings afterwards."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


def as_rgb_uint8(images: Any) -> torch.Tensor:
    """Check a batch: uint8 tensor or array ``[N, 1|3, H, W]`` -> uint8 tensor ``[N, 3, H, W]``."""
    x = torch.as_tensor(images)
    if x.dtype != torch.uint8:
        raise Sg2evalError(
            f"detectors take uint8 images, got {x.dtype}; "
            "convert with (x * 127.5 + 128).clamp(0, 255).to(uint8)"
        )
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise Sg2evalError(f"detectors take images shaped [N, 1 or 3, H, W], got {list(x.shape)}")
    return x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x


def tf1_resize_bilinear(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear resize as TensorFlow 1.x ``ResizeBilinear`` with ``align_corners=False`` (no half-pixel
    centers, no antialiasing): output pixel ``i`` samples input coordinate ``i * in/out``, interpolating
    between ``floor`` and ``min(floor + 1, in - 1)``: horizontally within the two source rows, then
    vertically. This is the resize inside the Inception graph (docs/facts.md, "Metrics / Common"),
    reproduced bit-exactly on CPU by torch-fidelity. Input ``[N, C, H, W]``
    float; a same-size resize is the identity."""
    assert x.ndim == 4 and x.is_floating_point()
    if tuple(x.shape[2:]) == (height, width):
        return x

    def taps(size_in: int, size_out: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        scale = torch.tensor(size_in / size_out, dtype=torch.float32)
        coord = torch.arange(size_out, dtype=torch.float32) * scale  # TF computes the coordinate in float32
        lo = coord.floor().long()
        hi = (lo + 1).clamp(max=size_in - 1)
        return lo.to(x.device), hi.to(x.device), (coord - lo.float()).to(x.device, x.dtype)

    y_lo, y_hi, dy = taps(x.shape[2], height)
    x_lo, x_hi, dx = taps(x.shape[3], width)
    top, bottom = x.index_select(2, y_lo), x.index_select(2, y_hi)  # [N, C, height, W]
    top_l, top_r = top.index_select(3, x_lo), top.index_select(3, x_hi)  # [N, C, height, width]
    bot_l, bot_r = bottom.index_select(3, x_lo), bottom.index_select(3, x_hi)
    dx = dx.view(1, 1, 1, width)
    upper = top_l + (top_r - top_l) * dx
    lower = bot_l + (bot_r - bot_l) * dx
    return upper + (lower - upper) * dy.view(1, 1, height, 1)


class Detector(ABC):
    """Base class: ``detector(images_uint8) -> float32 features [N, feature_dim]`` on the CPU.

    Attributes follow docs/CONTRACTS.md: ``name``, ``weights_path``, ``weights_sha256``, ``verified``,
    ``feature_dim`` (None for a Python callable until its first call), ``preprocess_id`` (a string that
    changes whenever preprocessing changes; part of feature cache keys) and ``device``.
    Subclasses implement :meth:`features` on a uint8 ``[N, 3, H, W]`` tensor already on ``device``.
    """

    name: str
    feature_dim: int | None
    preprocess_id: str

    def __init__(self, weights: WeightsFile | None, device: str | torch.device = "cpu") -> None:
        self.weights = weights
        self.device = torch.device(device)

    @property
    def weights_path(self) -> str | None:
        return None if self.weights is None else str(self.weights.path)

    @property
    def weights_sha256(self) -> str | None:
        return None if self.weights is None else self.weights.sha256

    @property
    def verified(self) -> bool:
        return self.weights is not None and self.weights.verified

    @abstractmethod
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Features [N, D] of preprocessed-by-the-subclass uint8 images [N, C, H, W]."""

    @torch.no_grad()
    def __call__(self, images: Any) -> torch.Tensor:
        x = as_rgb_uint8(images).to(self.device)
        with tf32_disabled():
            out = self.features(x)
        if out.ndim != 2 or out.shape[0] != x.shape[0]:
            raise Sg2evalError(
                f"detector {self.name} returned shape {list(out.shape)} for {x.shape[0]} images; "
                "a detector must return [N, D] features"
            )
        if self.feature_dim is None:
            self.feature_dim = int(out.shape[1])
        return out.to(device="cpu", dtype=torch.float32)

    def describe(self) -> dict[str, Any]:
        """Provenance: which detector, which weights (hash, verified, where found), which preprocessing."""
        return {
            "detector": self.name,
            "feature_dim": self.feature_dim,
            "preprocess": self.preprocess_id,
            "weights": None if self.weights is None else self.weights.describe(),
            "verified": self.verified,
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, weights={self.weights_path!r}, device={self.device})"
        )
