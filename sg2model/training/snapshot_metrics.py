"""The registry of metrics evaluated at training snapshots, filled by the layer above.

Training knows metrics only by name (``--metrics fid50k,ppl_wend``): at each snapshot it hands every
registered :class:`SnapshotMetric` a :class:`MetricContext` (the snapshot's network file, the training data,
the device and the run's metric options) and logs the :class:`MetricRecord` it returns. The toolkit's own
metrics (``fid50k``, ``kid50k_full``, ``pr50k3``, ``ppl_*``) live in the evaluation layer, which declares
its module as an entry point of the group ``sg2model.snapshot_metrics``; the first look-up of an unknown
name imports every such module, which registers its metrics (:func:`register_metric`). So this layer never
imports the metrics (docs/architecture.md), and processes started for training (``--gpus N``) find them too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import torch

from sg2model.core.errors import Sg2Error


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
class MetricRecord:
    """What the training log records of one metric: its values and its JSON-able parameters."""

    values: dict[str, float]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SnapshotMetric:
    """A named metric: what it computes and how."""

    name: str
    description: str
    compute: Callable[[MetricContext], MetricRecord]


SNAPSHOT_METRICS: dict[str, SnapshotMetric] = {}
PLUGIN_GROUP = "sg2model.snapshot_metrics"


def register_metric(metric: SnapshotMetric) -> None:
    """Make ``metric`` available to ``--metrics`` under its name (a later registration replaces it)."""
    SNAPSHOT_METRICS[metric.name] = metric


def check_metric_names(names: tuple[str, ...]) -> None:
    """Raise naming the known metrics when one of ``names`` is unknown (checked before training)."""
    unknown = [n for n in names if n not in SNAPSHOT_METRICS]
    if unknown:
        for point in entry_points(group=PLUGIN_GROUP):
            point.load()  # a module that registers its metrics when imported
        unknown = [n for n in names if n not in SNAPSHOT_METRICS]
    if unknown:
        known = ", ".join(SNAPSHOT_METRICS) or "none"
        raise Sg2Error(f"unknown snapshot metric(s) {', '.join(unknown)}; registered: {known}")


def compute_metric(name: str, context: MetricContext) -> MetricRecord:
    """The record of metric ``name`` on ``context`` (the name must be registered)."""
    check_metric_names((name,))
    return SNAPSHOT_METRICS[name].compute(context)
