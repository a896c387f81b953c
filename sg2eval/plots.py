"""PNG figures shared by the metrics and reports: score histograms.

- :func:`save_histogram` — a histogram of per-item scores with optional highlighted ranges, e.g. the
  per-image PPL distribution with the low/high percentile ranges in orange (StyleGAN2 Figure 5), or the
  projector's per-image distances.

Image grids (uint8 images tiled at their exact pixels) are :func:`sg2model.core.images.save_image_grid`.

Matplotlib runs with the Agg backend (no display needed); files are written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from sg2eval.errors import Sg2evalError
from sg2model.core.files import atomic_path


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
