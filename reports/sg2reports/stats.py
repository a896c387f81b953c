"""Seed statistics of a report cell: mean, standard deviation and a t-distribution confidence interval.

StyleGAN2 Table 1: "We computed each metric 10 times with different random seeds and report their average."
The report adds what the paper leaves out: the sample standard deviation over seeds (``ddof=1``), the
two-sided Student-t confidence interval of the mean, ``mean ± t_{1-a/2, n-1} * std / sqrt(n)``, and the
distance of the published value from ours in units of our standard deviation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats


@dataclass(frozen=True)
class SeedSummary:
    """``n`` values over seeds; ``std`` and the interval are NaN when ``n < 2`` (nothing to estimate)."""

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float
    confidence: float

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2


def summarize(values: Sequence[float] | np.ndarray, confidence: float = 0.95) -> SeedSummary:
    """Mean, sample standard deviation and the t-interval of the mean of ``values`` (finite numbers)."""
    data = np.asarray(values, dtype=np.float64)
    n = int(data.size)
    if n == 0:
        return SeedSummary(0, math.nan, math.nan, math.nan, math.nan, confidence)
    mean = float(data.mean())
    if n < 2:
        return SeedSummary(n, mean, math.nan, math.nan, math.nan, confidence)
    std = float(data.std(ddof=1))
    half = float(scipy_stats.t.ppf(0.5 + confidence / 2, df=n - 1)) * std / math.sqrt(n)
    return SeedSummary(n, mean, std, mean - half, mean + half, confidence)


def difference_in_std(ours: SeedSummary, published: float) -> float:
    """``(ours.mean - published) / ours.std``: NaN without a published value or a spread; +-inf when all
    seeds gave the same value and it differs from the published one."""
    if math.isnan(published) or math.isnan(ours.std):
        return math.nan
    difference = ours.mean - published
    if ours.std == 0:
        return 0.0 if difference == 0 else math.copysign(math.inf, difference)
    return difference / ours.std
