"""Metric results: the value(s), per-item data where it exists, parameters and provenance.

Every metric of the toolkit returns a :class:`Result`, whatever called it (CLI, Python API, training-time
evaluation, reports). It converts to a pandas row (:meth:`Result.to_frame`) and to JSON
(:meth:`Result.to_dict`), which is what ``--json OUT`` writes.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


def runtime_versions() -> dict[str, str]:
    """Versions of the packages that decide a metric's numbers."""
    import scipy
    import torch

    from sg2eval import __version__

    return {
        "sg2eval": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "python": platform.python_version(),
    }


@dataclass
class Result:
    """Outcome of one metric computation.

    ``values`` holds the headline numbers (``{"fid": 2.84}``, ``{"precision": .., "recall": ..}``);
    ``per_item`` holds arrays or tables (per-image PPL, per-attribute entropies, projection distances);
    ``params`` the metric's parameters; ``provenance`` sources, hashes, detector, seeds, versions, device,
    elapsed time.
    """

    metric: str
    values: dict[str, float]
    params: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    per_item: dict[str, Any] = field(default_factory=dict)

    @property
    def value(self) -> float:
        """The headline number: the value named like the metric, else the first one."""
        if self.metric in self.values:
            return self.values[self.metric]
        return next(iter(self.values.values()))

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
        """One pandas row: the metric name, its values, and its parameters prefixed with ``param.``."""
        row: dict[str, Any] = {"metric": self.metric}
        row.update(self.values)
        row.update({f"param.{k}": v for k, v in self.params.items() if np.isscalar(v) or v is None})
        return pd.DataFrame([row])


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


class Stopwatch:
    """Wall-clock timer for the ``elapsed_s`` provenance field."""

    def __init__(self) -> None:
        self._start = time.perf_counter()

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self._start
