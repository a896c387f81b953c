"""What a PPL run writes beside its number: per-pair scores and StyleGAN2 Figures 4 and 5 for that run.

- :func:`write_per_image_csv`: one row per pair, ``index, t, distance, kept`` (kept: inside the 1st–99th
  percentile range of docs/facts.md, "PPL");
- :func:`write_figures`: Figure 5's histogram (the kept pairs on a log axis, those at or below the 10th
  and at or above the 90th percentile in orange, the median dashed, a legend) and Figure 4's grids of random
  low- and high-PPL examples rendered at their t, enlarged to 128 px and captioned with each pair's index
  and per-pair PPL.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sg2eval.labels import distance_name
from sg2eval.metrics.ppl import percentile_examples, render_samples
from sg2eval.plots import save_histogram
from sg2eval.ppl_presets import CONFIG_FIELDS, PPLConfig
from sg2eval.result import Result
from sg2model.core.files import atomic_open
from sg2model.core.images import GridLabels, save_image_grid


def write_per_image_csv(result: Result, path: str | os.PathLike[str]) -> None:
    """One row per pair: ``index, t, distance, kept``."""
    with atomic_open(path, "w") as handle:
        pd.DataFrame(dict(result.per_item)).to_csv(handle, index=False)


def result_config(result: Result) -> PPLConfig:
    """The :class:`PPLConfig` a result was computed with (its params hold every field)."""
    return PPLConfig(**{name: result.params[name] for name in CONFIG_FIELDS})


def write_figures(
    result: Result, network: Any, out_dir: str | os.PathLike[str], count: int = 8
) -> list[Path]:
    """Figures 5 and 4 of ``result`` into ``out_dir`` (``ppl_histogram.png``, ``ppl_low.png``,
    ``ppl_high.png``); ``network`` is the one measured (a file, module or handle), rendered again for
    Figure 4."""
    folder = Path(out_dir)
    scores = np.asarray(result.per_item["distance"])
    p10, p90 = np.percentile(scores, [10, 90])
    kept = scores[np.asarray(result.per_item["kept"])]
    distance = distance_name(result.provenance.get("lpips"))
    hist = folder / "ppl_histogram.png"
    save_histogram(
        kept,
        hist,
        xlabel=f"per-pair PPL, d / eps^2 ({distance})",
        label="pairs in the 1st-99th percentile range",
        title=f"PPL = {result.value:.4g}: {len(kept)} of {len(scores)} pairs kept (1st-99th percentile)",
        highlight=[(float(kept.min()), float(p10)), (float(p90), float(kept.max()))],
        highlight_label="at most the 10th / at least the 90th percentile",
        log_x=bool(kept.min() > 0),
    )
    written = [hist]
    seed = int(result.params["seed"])
    config = result_config(result)
    for name, indices in zip(
        ("low", "high"), percentile_examples(scores, count=count, seed=seed), strict=True
    ):
        images = render_samples(network, config, seed, [int(i) for i in indices])
        path = folder / f"ppl_{name}.png"
        where = "at most the 10th" if name == "low" else "at least the 90th"
        labels = GridLabels(
            captions=[f"pair {i}\nPPL {scores[i]:.4g}" for i in indices],
            title=f"{name} PPL: random pairs {where} percentile, images at t ({distance})",
        )
        save_image_grid(images, path, columns=count, labels=labels)
        written.append(path)
    return written
