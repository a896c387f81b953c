"""StyleGAN2 Figure 10: LPIPS distance histograms between original and projected images, generated images in
blue and real images in orange, one panel per network.

The distances are those of attribution calibrations (:mod:`sg2eval.attribution`): :func:`figure10_frame`
turns calibrations into a long pandas table (``network, kind, index, distance``), :func:`figure10_networks`
reads each network's stored calibration or makes it, and :func:`save_figure10` draws the PNG. The panels
share the x range so the networks compare at a glance, as in the paper.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from sg2eval.attribution import Calibration, calibrate_network, find_calibration, open_setup
from sg2eval.errors import Sg2evalError
from sg2eval.projector import ProjectorConfig, StepReport
from sg2model.core.files import atomic_path

KIND_COLORS = {"generated": "tab:blue", "real": "tab:orange"}


def figure10_frame(calibrations: Mapping[str, Calibration]) -> pd.DataFrame:
    """One row per projected image: ``network`` (the mapping's key), ``kind`` (``generated``/``real``),
    ``index`` within its kind and ``distance``; plus the network's ``threshold``."""
    rows: list[dict[str, object]] = []
    for label, calibration in calibrations.items():
        for kind, distances in (("generated", calibration.generated), ("real", calibration.real)):
            rows.extend(
                {
                    "network": label,
                    "kind": kind,
                    "index": i,
                    "distance": d,
                    "threshold": calibration.threshold,
                }
                for i, d in enumerate(distances)
            )
    return pd.DataFrame(rows, columns=["network", "kind", "index", "distance", "threshold"])


def figure10_networks(
    networks: Sequence[str],
    real: str,
    num: int,
    config: ProjectorConfig | None = None,
    *,
    labels: Sequence[str] | None = None,
    lpips: str = "auto",
    lpips_weights: str | None = None,
    device: str = "auto",
    seed: int = 0,
    batch_size: int = 8,
    callback: Callable[[StepReport], None] | None = None,
) -> pd.DataFrame:
    """:func:`figure10_frame` of each network's calibration against ``real``, made (and stored) where none
    matches the network, the LPIPS backend and ``config``."""
    names = list(labels) if labels is not None else [os.path.basename(n) for n in networks]
    if len(names) != len(networks):
        raise Sg2evalError(f"got {len(names)} labels for {len(networks)} networks; give one per network")
    wanted = (config or ProjectorConfig()).to_dict()
    calibrations = {}
    for label, network in zip(names, networks, strict=True):
        setup = open_setup(network, lpips, lpips_weights, device)
        found = find_calibration(network, setup.network.sha256, setup.lpips)
        if found is not None and found[0].projector == wanted and len(found[0].generated) >= num:
            calibrations[label] = found[0]
        else:
            calibrations[label] = calibrate_network(
                setup, real, num, config, seed=seed, batch_size=batch_size, callback=callback
            )[0]
    return figure10_frame(calibrations)


def save_figure10(
    frame: pd.DataFrame, path: str | os.PathLike[str], bins: int = 40, xlabel: str = "LPIPS distance"
) -> None:
    """Write the histograms of :func:`figure10_frame`'s table as one PNG, a panel per network, with the
    threshold as a dashed line and a legend per panel (counts, threshold); ``xlabel`` names the distance
    (:func:`sg2eval.labels.distance_name` of the calibrations' ``lpips``: an in-domain one is not LPIPS)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if frame.empty:
        raise Sg2evalError("no distances to plot; calibrate at least one network first")
    labels = list(dict.fromkeys(frame["network"]))
    edges = np.histogram_bin_edges(frame["distance"].to_numpy(np.float64), bins=bins)
    fig, axes = plt.subplots(1, len(labels), figsize=(3.2 * len(labels), 2.8), dpi=120, squeeze=False)
    try:
        for ax, label in zip(axes[0], labels, strict=True):
            rows = frame[frame["network"] == label]
            for kind, color in KIND_COLORS.items():
                values = rows.loc[rows["kind"] == kind, "distance"].to_numpy(np.float64)
                ax.hist(values, bins=edges, color=color, alpha=0.6, label=f"{kind} ({len(values)})")
            threshold = float(rows["threshold"].iloc[0])
            ax.axvline(threshold, color="black", linestyle="--", linewidth=1,
                       label=f"threshold {threshold:.3g}")
            ax.set_title(label, fontsize=9)
            ax.set_xlabel(xlabel, fontsize=8)
            ax.legend(fontsize=7)
        axes[0][0].set_ylabel("images")
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
