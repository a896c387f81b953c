"""Fréchet Inception Distance (Heusel et al. 2017; StyleGAN2 Sec. 1 and Table 1, "FID").

``FID = |mu_r - mu_f|^2 + tr(S_r) + tr(S_f) - 2 tr((S_r S_f)^(1/2))`` on Inception pool3 features
(docs/facts.md, "FID"). Statistics are accumulated in float64 around a shift (the first batch's mean), so the
result does not depend on the batch size beyond float64 round-off (docs/facts.md, "Numerical traps": float32
accumulation made torchmetrics and torch-fidelity batch-size dependent).

Covariance normalisation (``covariance``):
- ``"unbiased"`` (default): divide by N - 1, as ``np.cov`` in the official TF ``fid50k``.
- ``"biased"``: divide by N, as stylegan2-ada-pytorch's ``FeatureStats.get_mean_cov``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from sg2eval.errors import Sg2evalError
from sg2eval.metrics.linalg import SqrtmMethod, trace_sqrt_product
from sg2eval.result import Result
from sg2model.core.checks import require_finite

Covariance = Literal["unbiased", "biased"]
COVARIANCES: tuple[str, ...] = ("unbiased", "biased")


@dataclass(frozen=True)
class GaussianStats:
    """Mean ``mu`` [D] and covariance ``sigma`` [D, D] (float64) of ``num`` feature vectors (None: not
    recorded, as in the statistics files of pytorch-fid, clean-fid and torch-fidelity)."""

    mu: np.ndarray
    sigma: np.ndarray
    num: int | None


class FeatureMoments:
    """Running float64 first and second moments of feature batches, shifted for accuracy.

    With shift ``c`` (the first batch's mean) it keeps ``n``, ``s = sum(x - c)`` [D] and
    ``q = sum((x - c)(x - c)^T)`` [D, D]; then ``mu = c + s / n`` and
    ``cov = (q - s s^T / n) / (n - ddof)``. Works on any torch device (the GPU does the [D, D] update).
    """

    def __init__(self, dim: int, device: torch.device | str = "cpu") -> None:
        self.dim = dim
        self.device = torch.device(device)
        self.num = 0
        self.shift: torch.Tensor | None = None  # [D] float64
        self.total = torch.zeros(dim, dtype=torch.float64, device=self.device)  # [D]
        self.outer = torch.zeros(dim, dim, dtype=torch.float64, device=self.device)  # [D, D]

    def update(self, features: torch.Tensor | np.ndarray) -> None:
        """Accumulate a batch of features [B, D]."""
        batch = torch.as_tensor(features).to(self.device, torch.float64)
        if batch.ndim != 2 or batch.shape[1] != self.dim:
            raise Sg2evalError(f"feature batch has shape {tuple(batch.shape)}, expected [B, {self.dim}]")
        if batch.shape[0] == 0:
            return
        if self.shift is None:
            self.shift = batch.mean(dim=0)
        centered = batch - self.shift  # [B, D]
        self.total += centered.sum(dim=0)
        self.outer += centered.T @ centered
        self.num += batch.shape[0]

    def merge(self, other: FeatureMoments) -> FeatureMoments:
        """The moments of both sets of features (another shard of the same source): ``other``'s sums are
        re-centred on this shift ``c`` and added, exact up to float64 rounding. With ``d = c_o - c``:
        ``s += s_o + n_o d`` and ``q += q_o + s_o d^T + d s_o^T + n_o d d^T``."""
        if other.dim != self.dim:
            raise Sg2evalError(f"cannot merge moments of {other.dim}-d features into {self.dim}-d ones")
        merged = FeatureMoments(self.dim, self.device)
        merged.num, merged.shift = self.num, self.shift
        merged.total, merged.outer = self.total.clone(), self.outer.clone()
        if other.shift is None:
            return merged
        if merged.shift is None:
            merged.shift = other.shift.to(self.device)
        d = other.shift.to(self.device) - merged.shift  # [D]
        s_o = other.total.to(self.device)  # [D]
        merged.total += s_o + other.num * d
        merged.outer += other.outer.to(self.device) + torch.outer(s_o, d) + torch.outer(d, s_o)
        merged.outer += other.num * torch.outer(d, d)
        merged.num += other.num
        return merged

    def gaussian(self, covariance: Covariance = "unbiased") -> GaussianStats:
        """Mean and covariance of everything added so far."""
        ddof = _ddof(covariance)
        if self.shift is None or self.num - ddof <= 0:
            raise Sg2evalError(f"need at least {ddof + 1} feature vectors for a covariance, got {self.num}")
        total = self.total.cpu().numpy()
        mu = self.shift.cpu().numpy() + total / self.num
        sigma = (self.outer.cpu().numpy() - np.outer(total, total) / self.num) / (self.num - ddof)
        return GaussianStats(mu=mu, sigma=(sigma + sigma.T) * 0.5, num=self.num)

    def state(self) -> dict[str, np.ndarray]:
        """Arrays that rebuild this accumulator (for the statistics cache)."""
        if self.shift is None:
            raise Sg2evalError("no features were accumulated; the source is empty")
        return {
            "num": np.asarray(self.num, dtype=np.int64),
            "shift": self.shift.cpu().numpy(),
            "total": self.total.cpu().numpy(),
            "outer": self.outer.cpu().numpy(),
        }

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], device: torch.device | str = "cpu") -> FeatureMoments:
        """Inverse of :meth:`state`, on ``device``."""
        moments = cls(int(state["shift"].shape[0]), device)
        moments.num = int(state["num"])
        for name in ("shift", "total", "outer"):
            array = torch.from_numpy(np.asarray(state[name], dtype=np.float64))
            setattr(moments, name, array.to(moments.device))
        return moments


def _ddof(covariance: Covariance) -> int:
    if covariance not in COVARIANCES:
        raise Sg2evalError(
            f"unknown covariance {covariance!r}; use 'unbiased' (TF, N-1) or 'biased' (ada, N)"
        )
    return 1 if covariance == "unbiased" else 0


def gaussian_stats(features: np.ndarray | torch.Tensor, covariance: Covariance = "unbiased") -> GaussianStats:
    """Mean and covariance (float64) of a feature array [N, D]."""
    array = torch.as_tensor(features)
    if array.ndim != 2:
        raise Sg2evalError(f"features must be a 2-D array [N, D], got shape {tuple(array.shape)}")
    moments = FeatureMoments(array.shape[1])
    moments.update(array)
    return moments.gaussian(covariance)


_NOT_FINITE_HINT = "the images or the detector gave NaN or Inf features; check both"


def frechet_distance(real: GaussianStats, fake: GaussianStats, method: SqrtmMethod = "eigh") -> float:
    """Fréchet distance between two Gaussians (float64), the FID when fed Inception statistics."""
    if real.mu.shape != fake.mu.shape:
        raise Sg2evalError(
            f"feature sizes differ ({real.mu.shape[0]} vs {fake.mu.shape[0]}); use the same detector on both"
        )
    for role, stats in (("real", real), ("fake", fake)):
        require_finite(stats.mu, f"the {role} feature mean", _NOT_FINITE_HINT)
        require_finite(stats.sigma, f"the {role} feature covariance", _NOT_FINITE_HINT)
    diff = real.mu - fake.mu  # [D]
    trace_root = trace_sqrt_product(real.sigma, fake.sigma, method)
    value = float(diff @ diff + np.trace(real.sigma) + np.trace(fake.sigma) - 2.0 * trace_root)
    return value


def compute_fid(
    real: GaussianStats,
    fake: GaussianStats,
    method: SqrtmMethod = "eigh",
    covariance: Covariance = "unbiased",
) -> Result:
    """FID of two sets' statistics as a :class:`~sg2eval.result.Result` (``values={"fid": ...}``)."""
    value = frechet_distance(real, fake, method)
    params = {
        "num_real": real.num,
        "num_fake": fake.num,
        "feature_dim": int(real.mu.shape[0]),
        "covariance": covariance,
        "sqrtm": method,
    }
    return Result(metric="fid", values={"fid": value}, params=params)
