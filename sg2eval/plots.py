"""PNG figures shared by the metrics and reports: score histograms and image grids.

- :func:`save_histogram` — a histogram of per-item scores with optional highlighted ranges, e.g. the
  per-image PPL distribution with the low/high percentile ranges in orange (StyleGAN2 Figure 5), or the
  projector's per-image distances.
- :func:`save_image_grid` — uint8 images tiled into one PNG at their exact pixels (StyleGAN2 Figure 4's rows
  of low- and high-PPL examples).

Matplotlib runs with the Agg backend (no display needed); files are written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from sg2eval.errors import Sg2evalError
from sg2eval.io_utils import atomic_path


def save_histogram(
    values: np.ndarray | Sequence[float],
    path: str | os.PathLike[str],
    *,
    bins: int = 100,
    title: str | None = None,
    xlabel: str = "score",
    highlight: Sequence[tuple[float, float]] = (),
    value_range: tuple[float, float] | None = None,
) -> None:
    """Write a PNG histogram of ``values``; bins inside any ``(lo, hi)`` of ``highlight`` are orange."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = np.asarray(values, dtype=np.float64).reshape(-1)
    data = data[np.isfinite(data)]
    if data.size == 0:
        raise Sg2evalError("no finite values to plot; check the scores passed to save_histogram.")
    counts, edges = np.histogram(data, bins=bins, range=value_range)
    centers = (edges[:-1] + edges[1:]) / 2
    orange = np.zeros(len(centers), dtype=bool)
    for lo, hi in highlight:
        orange |= (centers >= lo) & (centers <= hi)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    try:
        widths = np.diff(edges)
        ax.bar(centers, counts, width=widths, color=np.where(orange, "tab:orange", "tab:blue"), linewidth=0)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("count")
        if title:
            ax.set_title(title)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)


def save_image_grid(
    images: np.ndarray, path: str | os.PathLike[str], columns: int | None = None, padding: int = 2
) -> None:
    """Tile uint8 images [N, C, H, W] (C = 1 or 3) row by row into one PNG with white ``padding``."""
    from PIL import Image

    if images.ndim != 4 or images.dtype != np.uint8 or images.shape[1] not in (1, 3) or len(images) == 0:
        raise Sg2evalError(
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
