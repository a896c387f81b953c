"""The numeric option rules of the toolkit: one table read by the Python API and the CLI's option types.

A rule says whether a value is an integer or a finite real number, and its bounds. The API's configuration
dataclasses check their fields with :func:`check_fields` and the command line's options use the same rule
through ``sg2eval.cli.common.Checked``, so a value refused on one side is refused on the other with the same
words (``--k must be an integer >= 1, got 0`` / ``k must be ...``). Real numbers must be finite: a NaN would
compare False against every bound and pass silently.

:func:`require_finite` is the same rule for arrays: generated images, features and distances with a NaN or
an infinity would otherwise become a number that looks like a measurement (``to_uint8`` turns NaN into 0).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sg2model.core.errors import Sg2Error

SEED_MAX = 2**32 - 1  # numpy RandomState and torch.Generator seeds (network images: seed + i)


@dataclass(frozen=True)
class Rule:
    """What a numeric value may be: an integer or a finite real, at least ``low`` (above it when
    ``low_open``) and at most ``high`` (None: unbounded)."""

    integer: bool
    low: float | None = None
    high: float | None = None
    low_open: bool = False

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a finite number"
        if self.low is not None and self.high is not None:
            return f"{kind} in [{_text(self.low)}, {_text(self.high)}]"
        if self.low is not None:
            return f"{kind} {'>' if self.low_open else '>='} {_text(self.low)}"
        return kind

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.integer and not float(value).is_integer():
            return False
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or value <= self.high


def _text(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


COUNT = Rule(integer=True, low=1)
NON_NEGATIVE = Rule(integer=False, low=0)
POSITIVE = Rule(integer=False, low=0, low_open=True)
FINITE = Rule(integer=False)

# Every checked option, by its Python name (the API's keyword or dataclass field; the CLI's option may be
# spelled differently, e.g. --subsets for num_subsets).
RULES: dict[str, Rule] = {
    "batch_size": COUNT,
    "row_batch": COUNT,
    "col_batch": COUNT,
    "k": COUNT,  # neighbourhood size of precision/recall
    "num_subsets": COUNT,
    "subset_size": Rule(integer=True, low=2),  # an unbiased MMD^2 needs two samples per subset
    "num": COUNT,
    "num_samples": Rule(integer=True, low=2),  # PPL pairs: a standard error needs two
    "num_keep": COUNT,
    "noise_group": COUNT,
    "workers": COUNT,
    "num_steps": COUNT,
    "total_images": COUNT,
    "eval_batch": COUNT,
    "seed": Rule(integer=True, low=0, high=SEED_MAX),
    "truncation": FINITE,
    "epsilon": POSITIVE,
    "threshold": NON_NEGATIVE,  # an LPIPS distance
    "gamma": NON_NEGATIVE,  # R1 weight
    "pl_weight": NON_NEGATIVE,
    "lr": POSITIVE,
    "shapes_resolution": Rule(integer=True, low=8, high=1024),  # the paper's largest images are 1024 wide
}


def check(name: str, value: Any, label: str | None = None, error: type[Sg2Error] = Sg2Error) -> Any:
    """``value`` when :data:`RULES` ``[name]`` accepts it, else ``error`` (the layer's error class) naming
    ``label`` (the option as the caller spells it; ``name`` by default). Integers come back as ``int``."""
    rule = RULES[name]
    if not rule.accepts(value):
        raise error(f"{label or name} must be {rule.describe()}, got {value!r}")
    return int(value) if rule.integer else value


def check_fields(config: Any, names: Iterable[str], error: type[Sg2Error] = Sg2Error) -> None:
    """Check the fields ``names`` of a configuration object (None means "not set" and passes)."""
    for name in names:
        value = getattr(config, name)
        if value is not None:
            check(name, value, error=error)


def require_finite(values: torch.Tensor | np.ndarray, what: str, hint: str) -> None:
    """Raise :class:`Sg2Error` ``"<what>: N of M values are NaN or infinite; <hint>"`` unless every value of
    ``values`` is finite."""
    if isinstance(values, torch.Tensor):
        total, bad = values.numel(), int((~torch.isfinite(values)).sum())
    else:
        total, bad = int(np.size(values)), int(np.size(values) - np.count_nonzero(np.isfinite(values)))
    if bad:
        raise Sg2Error(f"{what}: {bad} of {total} values are NaN or infinite; {hint}")
