"""Metrics at training snapshots, by name: ``fid50k``, ``kid50k_full``, ``pr50k3``, ``ppl_wend``, ...

Each entry of :data:`SNAPSHOT_METRICS` turns a snapshot network file, the training data and a few options
(:class:`MetricContext`) into a :class:`sg2eval.result.Result` with the toolkit's metric code:

- feature metrics generate from the snapshot's ``G_ema`` with :class:`sg2eval.sources.NetworkSource` (image i
  from seed i, no truncation, random noise: FACTS.md "Metrics / Common"), take features with a detector
  (the metric's default, or ``detector``: a name, TorchScript path or a callable, so tests can use fakes) and
  reuse cached real-image statistics across snapshots (``sg2eval.cache``; callables are never cached);
- PPL metrics call :func:`sg2eval.metrics.ppl.ppl` with the preset of the same name.

``num`` overrides the number of generated images (and of reals for the ``*50k`` metrics) for quick runs.
Other helpers' metrics join with :func:`register_metric`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sg2eval.errors import Sg2evalError
from sg2eval.result import Result


@dataclass(frozen=True)
class MetricContext:
    """What a snapshot metric may use."""

    network: Path  # the snapshot's .sg2 file
    data: str  # the training images (unmirrored)
    device: torch.device
    detector: Any = None  # None = the metric's default detector
    lpips: Any = "auto"
    num: int | None = None  # override of the generated-image count


@dataclass(frozen=True)
class SnapshotMetric:
    """A named metric: what it computes and how."""

    name: str
    description: str
    compute: Callable[[MetricContext], Result]


SNAPSHOT_METRICS: dict[str, SnapshotMetric] = {}


def register_metric(metric: SnapshotMetric) -> None:
    SNAPSHOT_METRICS[metric.name] = metric


def check_metric_names(names: tuple[str, ...]) -> None:
    """Raise naming the known metrics when one of ``names`` is unknown (checked before training)."""
    unknown = [n for n in names if n not in SNAPSHOT_METRICS]
    if unknown:
        raise Sg2evalError(
            f"unknown snapshot metric(s) {', '.join(unknown)}; choose from {', '.join(SNAPSHOT_METRICS)}"
        )


def compute_metric(name: str, context: MetricContext) -> Result:
    check_metric_names((name,))
    result = SNAPSHOT_METRICS[name].compute(context)
    result.params["snapshot_metric"] = name
    result.provenance["network"] = str(context.network)
    return result


def _sources(context: MetricContext) -> tuple[Any, Any]:
    from sg2eval.sources import NetworkSource, open_source

    real = open_source(context.data)
    fake = NetworkSource(context.network, seed=0, device=context.device)
    return real, fake


def _detector(context: MetricContext, default: str) -> Any:
    from sg2eval.detectors import get_detector

    return get_detector(context.detector if context.detector is not None else default, device=context.device)


def _fid(num_fake: int, num_real: int | None, covariance: str) -> Callable[[MetricContext], Result]:
    """FID with ``num_fake`` generated images against the first ``num_real`` reals (None = all)."""

    def compute(context: MetricContext) -> Result:
        from sg2eval.cache import FeatureCache
        from sg2eval.features import extract_moments
        from sg2eval.metrics.fid import compute_fid

        real_source, fake_source = _sources(context)
        detector = _detector(context, "inception-v3-tf")
        fakes = context.num or num_fake
        reals = min(len(real_source), context.num or num_real or len(real_source))
        real = extract_moments(real_source, detector, reals, cache=FeatureCache(), device=context.device)
        fake = extract_moments(fake_source, detector, fakes, device=context.device)
        result = compute_fid(
            real.moments.gaussian(covariance),  # type: ignore[arg-type]
            fake.moments.gaussian(covariance),  # type: ignore[arg-type]
            covariance=covariance,  # type: ignore[arg-type]
        )
        result.provenance.update({"real": real.provenance, "fake": fake.provenance})
        return result

    return compute


def _features_metric(
    default_detector: str, num_fake: int, num_real: int | None, score: Callable[[Any, Any], Result]
) -> Callable[[MetricContext], Result]:
    """A metric on full feature arrays (KID, precision/recall)."""

    def compute(context: MetricContext) -> Result:
        from sg2eval.cache import FeatureCache
        from sg2eval.features import extract_features

        real_source, fake_source = _sources(context)
        detector = _detector(context, default_detector)
        reals = min(len(real_source), context.num or num_real or len(real_source))
        real = extract_features(real_source, detector, reals, cache=FeatureCache())
        fake = extract_features(fake_source, detector, context.num or num_fake)
        result = score(real.features, fake.features)
        result.provenance.update({"real": real.provenance, "fake": fake.provenance})
        return result

    return compute


def _kid(real: Any, fake: Any) -> Result:
    from sg2eval.metrics.kid import compute_kid

    return compute_kid(real, fake)


def _pr(real: Any, fake: Any) -> Result:
    from sg2eval.metrics.pr import compute_precision_recall

    return compute_precision_recall(real, fake)


def _ppl(preset: str) -> Callable[[MetricContext], Result]:
    def compute(context: MetricContext) -> Result:
        from sg2eval.metrics.ppl import ppl
        from sg2model import load_network

        G = load_network(context.network).generator.to(context.device)
        return ppl(G, preset, num_samples=context.num, lpips=context.lpips, device=context.device)

    return compute


_BUILTIN = (
    SnapshotMetric(
        "fid50k", "FID, 50k generated vs the first 50k reals (TF, N-1)", _fid(50_000, 50_000, "unbiased")
    ),
    SnapshotMetric("fid50k_full", "FID, 50k generated vs all reals (ada, N)", _fid(50_000, None, "biased")),
    SnapshotMetric(
        "kid50k_full",
        "KID, 50k generated vs all reals",
        _features_metric("inception-v3-tf", 50_000, None, _kid),
    ),
    SnapshotMetric(
        "pr50k3", "precision/recall, k=3, 50k each (VGG16)", _features_metric("vgg16-nv", 50_000, 50_000, _pr)
    ),
    *(
        SnapshotMetric(name, f"perceptual path length, preset {name}", _ppl(name))
        for name in ("ppl_zfull", "ppl_wfull", "ppl_zend", "ppl_wend", "ppl2_wend")
    ),
)
for _metric in _BUILTIN:
    register_metric(_metric)
