"""The metric registry of the reports: ``name -> function(network, dataset, seed, options) -> values``.

A function gets the network file, the dataset (an image folder, zip or array file; None for metrics that
never read it), the seed index ``0 .. seeds-1`` and the options of ``[metrics.<name>]`` merged over the
paper's defaults. It returns a :class:`~sg2eval.result.Result` or a plain dict of numbers (and of 1-D
number lists for per-item data such as projection distances). Tests and the demo register their own
functions (cheap ones, or FID with an in-domain detector) in a copy of :func:`default_registry`.

Seeds: image ``i`` of a network source is made from seed ``first + i`` (``sg2eval.sources.network``), so
the default FID and P&R functions start seed index ``s`` at ``first = s * num``: the ten runs see disjoint
sets of generated images, as ten independently seeded runs of the official code do. The reals are the
first ``num_real`` images of the dataset in every run (TF ``fid50k``'s choice). PPL passes ``s`` as its
seed (pairs are seeded by ``(seed, i)``). The projection function projects ``num`` generated and ``num``
real images from ``first = s * num`` (:func:`sg2eval.attribution.project_generated_and_real`'s convention).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sg2eval.errors import Sg2evalError
from sg2eval.result import Result

MetricFn = Callable[[Path, "Path | None", int, Mapping[str, Any]], "Mapping[str, Any] | Result"]

#: Options that change speed or placement, never values: left out of cell keys.
RUN_ONLY_OPTIONS = frozenset({"device", "batch_size", "cache", "cache_dir", "progress"})


@dataclass(frozen=True)
class MetricEntry:
    """A registered metric: its function and whether it reads the dataset (PPL does not)."""

    fn: MetricFn
    needs_dataset: bool = True


Registry = dict[str, MetricEntry]


@dataclass(frozen=True)
class MetricOutput:
    """A metric function's output split into headline numbers, per-item arrays and provenance."""

    values: dict[str, float]
    per_item: dict[str, np.ndarray]
    provenance: dict[str, Any]


def split_output(output: Mapping[str, Any] | Result) -> MetricOutput:
    """Normalize what a metric function returned; anything but numbers and 1-D number arrays is refused."""
    if isinstance(output, Result):
        arrays = {k: np.asarray(v) for k, v in output.per_item.items() if np.asarray(v).ndim == 1}
        return MetricOutput({k: float(v) for k, v in output.values.items()}, arrays, dict(output.provenance))
    values: dict[str, float] = {}
    per_item: dict[str, np.ndarray] = {}
    for name, value in output.items():
        array = np.asarray(value)
        if array.ndim == 0 and np.issubdtype(array.dtype, np.number):
            values[name] = float(array)
        elif array.ndim == 1 and np.issubdtype(array.dtype, np.number):
            per_item[name] = array.astype(np.float64)
        else:
            raise Sg2evalError(
                f"metric value {name!r} is {type(value).__name__}; return numbers or 1-D arrays"
            )
    return MetricOutput(values, per_item, {})


#: Arguments the report itself sets (inputs, seed, generated count); never options of a manifest.
_RESERVED = frozenset({"real", "fake", "G", "seed", "num_fake"})


def _check_options(
    metric: str, options: Mapping[str, Any], target: Callable[..., Any], extra: set[str]
) -> None:
    named = {
        name
        for name, p in inspect.signature(target).parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    accepted = (named | extra) - _RESERVED
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise Sg2evalError(
            f"[metrics.{metric}] has unknown options {', '.join(unknown)}; "
            f"known: {', '.join(sorted(accepted))}"
        )


def _run_keys() -> set[str]:
    from sg2eval.api import RunKwargs

    return set(RunKwargs.__annotations__)


def _need(dataset: Path | None, metric: str) -> Path:
    if dataset is None:
        raise Sg2evalError(f"{metric} needs a dataset; name one in the row")
    return dataset


def fid_metric(network: Path, dataset: Path | None, seed: int, options: Mapping[str, Any]) -> Result:
    """``sg2eval.fid`` of ``num`` generated images (default 50 000, seeds ``seed*num ..``) against the
    first ``num_real`` (default ``num``) reals (TF ``fid50k``)."""
    from sg2eval.api import fid

    opts = dict(options)
    num = int(opts.pop("num", 50_000))
    opts.setdefault("num_real", num)
    _check_options("fid", opts, fid, _run_keys())
    return fid(str(_need(dataset, "fid")), str(network), num_fake=num, seed=seed * num, **opts)


def pr_metric(network: Path, dataset: Path | None, seed: int, options: Mapping[str, Any]) -> Result:
    """``sg2eval.precision_recall`` (``pr50k3``): ``num`` images per side, generated from ``seed*num``."""
    from sg2eval.api import precision_recall

    opts = dict(options)
    num = int(opts.pop("num", 50_000))
    opts.setdefault("num_real", num)
    _check_options("pr", opts, precision_recall, _run_keys())
    return precision_recall(str(_need(dataset, "pr")), str(network), num_fake=num, seed=seed * num, **opts)


def ppl_metric(network: Path, dataset: Path | None, seed: int, options: Mapping[str, Any]) -> Result:
    """``sg2eval.ppl`` of the network with ``seed`` (preset default ``ppl2_wend``)."""
    from sg2eval.metrics.ppl import ppl

    _check_options("ppl", options, ppl, set())
    return ppl(network, seed=seed, **{"device": "auto", **options})


def projection_metric(network: Path, dataset: Path | None, seed: int, options: Mapping[str, Any]) -> Result:
    """Figure 10's distances: project ``num`` generated and ``num`` real images (Appendix D projector)."""
    from sg2reports.projection import project_generated_and_real

    return project_generated_and_real(network, _need(dataset, "projection"), seed, options)


def default_registry() -> Registry:
    """A fresh registry with the paper's metrics: ``fid``, ``pr``, ``ppl`` and Figure 10's ``projection``."""
    return {
        "fid": MetricEntry(fid_metric),
        "pr": MetricEntry(pr_metric),
        "ppl": MetricEntry(ppl_metric, needs_dataset=False),
        "projection": MetricEntry(projection_metric),
    }
