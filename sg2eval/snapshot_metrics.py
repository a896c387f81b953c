"""The toolkit's metrics at training snapshots, as a table over the public API, registered for training.

Importing this module registers each row of :data:`SNAPSHOT_RECIPES` in
:data:`sg2model.training.SNAPSHOT_METRICS`; training imports it on the first look-up of a metric name (it is
the entry point ``sg2eval`` of the group ``sg2model.snapshot_metrics``). A row names the public function
(:func:`sg2eval.fid`, :func:`sg2eval.kid`, :func:`sg2eval.precision_recall`, :func:`sg2eval.ppl`), how many
generated and real images it takes and its options; names and counts are those of stylegan2-ada-pytorch's
``metric_main.py`` and the official TF metrics (docs/facts.md, "Metrics / Common": image i from seed i, no
truncation, random noise). The snapshot's generated images are never cached (each snapshot is a new network);
the real-image statistics are, so every snapshot after the first reuses them.

``MetricContext.num`` overrides the generated-image count (and the real one of the ``*50k`` rows) for quick
runs; ``detector`` and ``lpips`` replace the defaults (names, TorchScript paths or callables). A record
then says what was measured: ``params["measured_as"]`` carries the count it ran with (``fid50k`` at
``num=500`` is ``fid500``, :func:`measured_name`) and ``params["labels"]`` names each value
(:func:`sg2eval.labels.value_label`: ``FD (mean_colour, 500 real vs 500 generated)``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sg2eval.result import Result
from sg2model.training.snapshot_metrics import MetricContext, MetricRecord, SnapshotMetric, register_metric


@dataclass(frozen=True)
class DistributionRecipe:
    """A distribution metric at a snapshot: ``api(data, snapshot, num_fake=..., num_real=..., **options)``.

    ``num_real=None`` means all the training images (the ``*_full`` metrics)."""

    name: str
    description: str
    api: str  # 'fid' | 'kid' | 'precision_recall'
    num_fake: int
    num_real: int | None
    options: dict[str, Any] = field(default_factory=dict)

    def compute(self, context: MetricContext) -> MetricRecord:
        import sg2eval
        from sg2eval.sources import open_source

        api: Callable[..., Result] = getattr(sg2eval, self.api)
        available = len(open_source(context.data))
        num_real = min(context.num or self.num_real or available, available)
        detector = {} if context.detector is None else {"detector": context.detector}
        result = api(
            context.data,
            str(context.network),
            num_fake=context.num or self.num_fake,
            num_real=num_real,
            device=str(context.device),
            cache_generated=False,
            **detector,
            **self.options,
        )
        return record(result, self.name, measured_name(self.name, context.num or self.num_fake))


@dataclass(frozen=True)
class PPLRecipe:
    """Perceptual path length of the snapshot's generator with a preset (:mod:`sg2eval.ppl_presets`)."""

    name: str
    description: str

    def compute(self, context: MetricContext) -> MetricRecord:
        from sg2eval.metrics.ppl import ppl
        from sg2model import load_network

        G = load_network(context.network).generator.to(context.device)
        result = ppl(G, self.name, num=context.num, lpips=context.lpips, device=context.device)
        return record(result, self.name)


def measured_name(name: str, num: int) -> str:
    """``name`` with its ``50k`` replaced by the count ``num`` it ran with: ``fid50k`` -> ``fid500``,
    ``kid50k_full`` -> ``kid5k_full``, ``pr50k3`` -> ``pr500_k3`` (``k`` kept apart from a plain count)."""
    count = f"{num // 1000}k" if num % 1000 == 0 else str(num)
    if not count.endswith("k"):
        name = re.sub(r"50k(?=\d)", f"{count}_k", name)
    return name.replace("50k", count)


def record(result: Result, name: str, measured_as: str | None = None) -> MetricRecord:
    """The training log's record of a result: its values and JSON-able params, with the metric's name, the
    name it deserves at its real count (``measured_as``) and what each value is (``labels``)."""
    from sg2eval.labels import value_label

    return MetricRecord(
        dict(result.values),
        {
            **result.to_dict()["params"],
            "snapshot_metric": name,
            "measured_as": measured_as or name,
            "labels": {value: value_label(result, value) for value in result.values},
        },
    )


SNAPSHOT_RECIPES: tuple[DistributionRecipe | PPLRecipe, ...] = (
    DistributionRecipe(
        "fid50k",
        "FID, 50k generated vs the first 50k reals (TF, N-1)",
        "fid",
        50_000,
        50_000,
        {"covariance": "unbiased"},
    ),
    DistributionRecipe(
        "fid50k_full",
        "FID, 50k generated vs all reals (ada, N)",
        "fid",
        50_000,
        None,
        {"covariance": "biased"},
    ),
    DistributionRecipe("kid50k_full", "KID, 50k generated vs all reals", "kid", 50_000, None),
    DistributionRecipe(
        "pr50k3", "precision/recall, k=3, 50k each (VGG16)", "precision_recall", 50_000, 50_000
    ),
    *(
        PPLRecipe(name, f"perceptual path length, preset {name}")
        for name in ("ppl_zfull", "ppl_wfull", "ppl_zend", "ppl_wend", "ppl2_wend")
    ),
)

for _recipe in SNAPSHOT_RECIPES:
    register_metric(SnapshotMetric(_recipe.name, _recipe.description, _recipe.compute))
