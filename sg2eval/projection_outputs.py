"""The files of a projection run (``sg2eval project``), in stylegan2-ada-pytorch's layout where it has one.

Per target, in ``<out>/<name>/``: ``projected_w.npz`` (``w`` as ``[1, num_ws, w_dim]``, one w repeated for
every layer, as stylegan2-ada-pytorch's ``projector.py`` saves it), ``noise.npz`` (the optimized noise maps),
``target.png`` and ``proj.png`` (at the network's exact pixels, for reuse), and ``compare.png`` for reading
(target | projection, enlarged to at least 128 px by nearest neighbour and captioned with the distance's
name and value and the seed); ``<out>/projection.json`` sums up the run: network, perceptual distance,
projector settings, and per target its distance, seed and folder.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sg2eval.attribution import Setup
from sg2eval.cache import write_npz
from sg2eval.labels import distance_name
from sg2eval.projector import Projection, ProjectorConfig
from sg2model.core.files import write_json
from sg2model.core.images import GridLabels, save_image_grid


def unique_names(files: Sequence[Path]) -> list[str]:
    """Output folder names: file stems, suffixed with their index where two stems collide."""
    stems = [f.stem for f in files]
    return [s if stems.count(s) == 1 else f"{s}-{i}" for i, s in enumerate(stems)]


def write_target(
    projection: Projection, k: int, target: np.ndarray, folder: Path, num_ws: int, distance: str
) -> dict[str, Any]:
    """The files of target ``k`` (uint8 ``target [C, H, W]``; ``distance`` names the perceptual distance for
    ``compare.png``'s caption); returns its summary entry."""
    w = projection.w[k]  # [w_dim]
    distance_value, seed = float(projection.distance[k]), int(projection.seeds[k])
    meta = {"distance": distance_value, "seed": seed, "space": "W (one w for all layers)"}
    write_npz(folder / "projected_w.npz", {"w": np.tile(w, (1, num_ws, 1))}, meta)  # [1, num_ws, w_dim]
    write_npz(folder / "noise.npz", {name: maps[k] for name, maps in projection.noise.items()}, meta)
    save_image_grid(target[np.newaxis], folder / "target.png", columns=1, padding=0)
    save_image_grid(projection.images[k : k + 1], folder / "proj.png", columns=1, padding=0)
    captions = ["target", f"projection, seed {seed}\n{distance}\n= {distance_value:.4g}"]
    labels = GridLabels(captions=captions, title=folder.name)
    save_image_grid(np.stack([target, projection.images[k]]), folder / "compare.png", 2, labels=labels)
    return {"distance": distance_value, "seed": seed, "folder": str(folder)}


def write_projections(
    out: str | os.PathLike[str],
    setup: Setup,
    config: ProjectorConfig,
    files: Sequence[Path],
    targets: np.ndarray,
    projection: Projection,
    extra: Sequence[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Every target's files and ``projection.json``; ``extra`` adds entries to each target's summary
    (a video path, say). Returns the summaries, in target order."""
    folder = Path(out)
    summary = []
    for k, (file, name) in enumerate(zip(files, unique_names(files), strict=True)):
        entry = write_target(
            projection, k, targets[k], folder / name, int(setup.G.num_ws), distance_name(setup.lpips)
        )
        summary.append({"target": str(file), **entry, **(extra[k] if extra else {})})
    write_json(
        folder / "projection.json",
        {
            "network": setup.network.describe(),
            "lpips": setup.lpips,
            "projector": config.to_dict(),
            "targets": summary,
        },  # fmt: skip
    )
    return summary
