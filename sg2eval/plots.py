"""PNG figures shared by the metrics and reports: score histograms.

- :func:`save_histogram` — a histogram of per-item scores with optional highlighted ranges, e.g. the
  per-image PPL distribution with the low/high percentile ranges in orange (StyleGAN2 Figure 5), or the
  projector's per-image distances. Every figure has a legend (what the bars count and how many, what the
  orange bars are, the median as a dashed line); heavy-tailed scores such as PPL read best with
  ``log_x=True`` (geometric bins), where a few outliers no longer squeeze the bulk into one bar.
- :func:`histogram_edges` — the bin edges it uses.

Image grids are :func:`sg2model.core.images.save_image_grid`. The title and the legend's texts are also
stored in the PNG's text chunks (``Title``, ``Description``). Matplotlib runs with the Agg backend (no
display needed); files are written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from sg2eval.errors import Sg2evalError
from sg2model.core.files import atomic_path


def histogram_edges(
    data: np.ndarray, bins: int, value_range: tuple[float, float] | None, log_x: bool
) -> np.ndarray:
    """``bins + 1`` edges over ``value_range`` (default: the data's range): evenly spaced, or geometric
    with ``log_x`` (then over the positive values only)."""
    if not log_x:
        return np.histogram_bin_edges(data, bins=bins, range=value_range)
    lo, hi = value_range if value_range is not None else (data.min(), data.max())
    if hi <= 0:
        raise Sg2evalError("a log axis needs positive values; plot these scores with log_x=False.")
    lo = lo if lo > 0 else data[data > 0].min()
    return np.geomspace(lo, hi if hi > lo else lo * 1.01, bins + 1)


def save_histogram(
    values: np.ndarray | Sequence[float],
    path: str | os.PathLike[str],
    *,
    bins: int = 100,
    title: str | None = None,
    xlabel: str = "score",
    label: str = "items",
    highlight: Sequence[tuple[float, float]] = (),
    highlight_label: str = "highlighted range",
    value_range: tuple[float, float] | None = None,
    log_x: bool = False,
) -> None:
    """Write a PNG histogram of ``values`` (legend: ``label`` and the count); bins inside any ``(lo, hi)``
    of ``highlight`` are orange (legend: ``highlight_label``); the median is a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    data = np.asarray(values, dtype=np.float64).reshape(-1)
    data = data[np.isfinite(data)]
    if data.size == 0:
        raise Sg2evalError("no finite values to plot; check the scores passed to save_histogram.")
    edges = histogram_edges(data, bins, value_range, log_x)
    counts, _ = np.histogram(data, bins=edges)
    centers = np.sqrt(edges[:-1] * edges[1:]) if log_x else (edges[:-1] + edges[1:]) / 2
    orange = np.zeros(len(centers), dtype=bool)
    for lo, hi in highlight:
        orange |= (centers >= lo) & (centers <= hi)
    hidden = int(np.sum((data < edges[0]) | (data > edges[-1])))
    median = float(np.median(data))
    entries = [f"{label} ({data.size - hidden}{f'; {hidden} outside the axis' if hidden else ''})"]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    try:
        ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", linewidth=0,
               color=np.where(orange, "tab:orange", "tab:blue"))  # fmt: skip
        handles: list[Any] = [Patch(color="tab:blue", label=entries[0])]
        if orange.any():
            entries.append(highlight_label)
            handles.append(Patch(color="tab:orange", label=highlight_label))
        entries.append(f"median {median:.4g}")
        handles.append(ax.axvline(median, color="black", linestyle="--", linewidth=1, label=entries[-1]))
        if log_x:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel + (" (log scale)" if log_x else ""))
        ax.set_ylabel("count")
        ax.legend(handles=handles, fontsize=7)
        if title:
            ax.set_title(title, fontsize=9)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", metadata={"Title": title or "", "Description": "; ".join(entries)})
    finally:
        plt.close(fig)
