"""Images as the official code renders them, and image grids as PNG files.

- :func:`to_uint8`: generator output in about [-1, 1] -> uint8 [0, 255] exactly as NVIDIA's metric and
  generation code converts it, ``(x * 127.5 + 128).clamp(0, 255).to(uint8)`` (docs/facts.md, "Metrics /
  Common"); every layer that turns generator output into pixels calls it;
- :func:`save_image_grid`: uint8 images tiled into one PNG at their exact pixels (training snapshots,
  StyleGAN2 Figure 4's rows, projections), written atomically.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from sg2model.core.errors import Sg2Error
from sg2model.core.files import atomic_path


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Generator output ``[N, C, H, W]`` in about [-1, 1] -> uint8 ``[N, C, H, W]``, the official rounding."""
    return (images * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def save_image_grid(
    images: np.ndarray, path: str | os.PathLike[str], columns: int | None = None, padding: int = 2
) -> None:
    """Tile uint8 images [N, C, H, W] (C = 1 or 3) row by row into one PNG with white ``padding``."""
    from PIL import Image

    if images.ndim != 4 or images.dtype != np.uint8 or images.shape[1] not in (1, 3) or len(images) == 0:
        raise Sg2Error(
            f"expected uint8 images [N, 1|3, H, W] with N > 0, got {images.dtype} {tuple(images.shape)}."
        )
    n, ch, h, w = images.shape
    cols = columns or int(np.ceil(np.sqrt(n)))
    rows = -(-n // cols)
    grid = np.full((rows * (h + padding) + padding, cols * (w + padding) + padding, ch), 255, np.uint8)
    for k, img in enumerate(images):
        y = padding + (k // cols) * (h + padding)
        x = padding + (k % cols) * (w + padding)
        grid[y : y + h, x : x + w] = img.transpose(1, 2, 0)
    picture = Image.fromarray(grid[:, :, 0] if ch == 1 else grid)
    with atomic_path(path) as tmp:
        picture.save(tmp, format="PNG")
