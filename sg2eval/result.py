"""Metric results: the value(s), per-item data where it exists, parameters and provenance.

Every metric of the toolkit returns a frozen :class:`Result`, whatever called it (CLI, Python API,
training-time evaluation, reports, the demo). It converts to a pandas row (:meth:`Result.to_frame`) and to
JSON (:meth:`Result.to_dict`), which is what ``--json OUT`` writes. Provenance is made in one place,
:func:`provenance`: every result names its inputs under the same keys (``network``, ``sources``,
``detector``, ``lpips``, ``classifiers``), then its ``details``, the ``device``, the package ``versions`` and
the ``elapsed_s`` of a :class:`Stopwatch` started when the computation began.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    import pandas as pd  # imported by to_frame: 0.45 s that feature extraction and the metrics do not need


def runtime_versions() -> dict[str, str]:
    """Versions of the packages that decide a metric's numbers."""
    import scipy

    from sg2eval import __version__

    return {
        "sg2eval": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "python": platform.python_version(),
    }


class Stopwatch:
    """Wall-clock timer for the ``elapsed_s`` provenance field."""

    def __init__(self) -> None:
        self._start = time.perf_counter()

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self._start


def provenance(
    clock: Stopwatch,
    device: torch.device | str | None,
    *,
    network: Mapping[str, Any] | None = None,
    sources: Mapping[str, Any] | None = None,
    detector: Mapping[str, Any] | None = None,
    lpips: Mapping[str, Any] | None = None,
    classifiers: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
    versions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The provenance of one result: the inputs that were given, ``details`` (metric-specific facts such as
    the cache folder or the number of pairs kept), then ``device``, ``versions`` (plus ``versions`` given)
    and ``elapsed_s``."""
    inputs = {"network": network, "sources": sources, "detector": detector, "lpips": lpips,
              "classifiers": classifiers}  # fmt: skip
    out: dict[str, Any] = {key: dict(value) for key, value in inputs.items() if value is not None}
    out.update(details or {})
    out["device"] = None if device is None else str(device)
    out["versions"] = {**runtime_versions(), **(versions or {})}
    out["elapsed_s"] = clock.elapsed_s
    return out


@dataclass(frozen=True)
class Result:
    """Outcome of one metric computation (frozen; :meth:`with_params` / :meth:`with_provenance` make
    changed copies).

    ``values`` holds the headline numbers (``{"fid": 2.84}``, ``{"precision": .., "recall": ..}``);
    ``per_item`` holds arrays or tables (per-image PPL, per-attribute entropies, projection distances);
    ``params`` the metric's parameters; ``provenance`` what :func:`provenance` builds.
    """

    metric: str
    values: Mapping[str, float]
    params: Mapping[str, Any] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)
    per_item: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("values", "params", "provenance", "per_item"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:  # pickle and deepcopy: plain dicts inside
        parts = (self.values, self.params, self.provenance, self.per_item)
        return Result, (self.metric, *(dict(part) for part in parts))

    @property
    def value(self) -> float:
        """The headline number: the value named like the metric, else the first one."""
        if self.metric in self.values:
            return self.values[self.metric]
        return next(iter(self.values.values()))

    def with_params(self, **params: Any) -> Result:
        """A copy with ``params`` added (or replaced)."""
        return replace(self, params={**self.params, **params})

    def with_provenance(self, **entries: Any) -> Result:
        """A copy with provenance ``entries`` added (or replaced)."""
        return replace(self, provenance={**self.provenance, **entries})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``{"metric": ..., "value": ..., <each value>, "params", "provenance"}``."""
        payload: dict[str, Any] = {"metric": self.metric}
        if len(self.values) == 1 or self.metric in self.values:
            payload["value"] = float(self.value)
        payload.update({name: float(v) for name, v in self.values.items()})
        payload["params"] = _jsonable(self.params)
        payload["provenance"] = _jsonable(self.provenance)
        return payload

    def to_frame(self) -> pd.DataFrame:
        """One pandas row: the metric name, its values, what was measured (``real`` and ``fake`` sources or
        the ``network``, the ``detector`` or ``lpips`` distance, with its weights' hash prefix), and the
        parameters prefixed with ``param.``; rows of several results concatenate into one table
        (``pd.concat([r.to_frame() for r in results])``)."""
        import pandas as pd

        row: dict[str, Any] = {"metric": self.metric}
        row.update(self.values)
        row.update(self.inputs())
        row.update({f"param.{k}": v for k, v in self.params.items() if np.isscalar(v) or v is None})
        return pd.DataFrame([row])

    def inputs(self) -> dict[str, Any]:
        """What the result was measured on, from its provenance, as flat columns (see :meth:`to_frame`)."""
        found: dict[str, Any] = {}
        for role, source in (self.provenance.get("sources") or {}).items():
            described = source.get("source", source) if isinstance(source, Mapping) else {}
            found[role] = described.get("path") or described.get("kind")
            if source.get("seeds") is not None:
                found[f"{role}_seeds"] = "-".join(str(s) for s in source["seeds"])
        network = self.provenance.get("network")
        if isinstance(network, Mapping):
            found["network"] = network.get("path") or f"module {str(network.get('sha256'))[:12]}"
            found["network_sha256"] = network.get("sha256")
        detector = self.provenance.get("detector")
        if isinstance(detector, Mapping):
            found["detector"] = detector.get("detector")
            weights = detector.get("weights") or {}
            found["detector_sha256"] = str(weights.get("sha256"))[:12] if weights.get("sha256") else None
        lpips = self.provenance.get("lpips")
        if isinstance(lpips, Mapping):
            found["lpips"] = lpips.get("lpips") or lpips.get("name")
        return found


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj
