"""The one matrix function FID needs: ``trace(sqrtm(sigma1 @ sigma2))`` for covariance matrices.

The Fréchet distance between N(mu1, S1) and N(mu2, S2) is (docs/facts.md, "FID")
``|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))``. Only the *trace* of the square
root is needed, and it equals the sum of the square roots of the eigenvalues of ``S1 S2``. ``S1 S2`` is not
symmetric, but for any factor ``S1 = F F^T`` it is similar to the symmetric positive semi-definite
``M = F^T S2 F`` (``F^T S2 F`` and ``F F^T S2`` share their nonzero eigenvalues), so

    tr((S1 S2)^(1/2)) = sum_i sqrt(lambda_i(M)),  lambda_i(M) >= 0.

Three routes are offered (``method``):

- ``"eigh"`` (default): ``F`` is the Cholesky factor of ``S1`` when ``S1`` is positive definite, else
  (singular covariances: fewer samples than dimensions) the symmetric square root from ``eigh``; then
  ``eigvalsh(M)``.
  Real arithmetic throughout, round-off eigenvalues set to exactly 0, so it stays finite and accurate for
  singular covariances. At 2048x2048 the Cholesky path takes about half the CPU time of ``"eigvals"``
  (see ``benchmarks/bench_metrics.py``).
- ``"eigvals"``: ``sum(sqrt(eigvals(S1 @ S2)))`` with a general (non-symmetric) eigensolver, as
  torch-fidelity does.
- ``"sqrtm"``: ``trace(scipy.linalg.sqrtm(S1 @ S2)).real``, as the official TF and ada code do (docs/facts.md,
  "Numerical traps", notes the SciPy versions where this call misbehaves).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from sg2eval.errors import Sg2evalError

SqrtmMethod = Literal["eigh", "eigvals", "sqrtm"]
SQRTM_METHODS: tuple[str, ...] = ("eigh", "eigvals", "sqrtm")


def clip_round_off(eigenvalues: np.ndarray) -> np.ndarray:
    """Set eigenvalues of a PSD matrix that are zero up to round-off to exactly 0.

    Threshold ``max|lambda| * sqrt(D) * eps``: null eigenvalues of singular sample covariances are a few
    ``eps * max`` (measured from 10 x 64 to 2000 x 2048 samples); without the threshold their square roots
    (~1e-8 each) add up to a visibly negative FID of a set with itself. The looser ``D * eps`` of
    ``numpy.linalg.matrix_rank`` would also drop genuine small eigenvalues of badly conditioned covariance
    products (3e-8 relative error at condition 1e13; tested).
    """
    tolerance = np.abs(eigenvalues).max(initial=0.0) * np.sqrt(len(eigenvalues)) * np.finfo(np.float64).eps
    return np.where(eigenvalues > tolerance, eigenvalues, 0.0)


def psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a PSD matrix via ``eigh`` (round-off eigenvalues set to 0)."""
    eigenvalues, eigenvectors = np.linalg.eigh(sigma)  # [D], [D, D]
    roots = np.sqrt(clip_round_off(eigenvalues))
    return (eigenvectors * roots) @ eigenvectors.T  # [D, D]


def psd_factor(sigma: np.ndarray) -> np.ndarray:
    """``F`` with ``F F^T = sigma``: Cholesky if ``sigma`` is positive definite, else :func:`psd_sqrt`."""
    try:
        return np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:
        return psd_sqrt(sigma)


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray, method: SqrtmMethod = "eigh") -> float:
    """``trace(sqrtm(sigma1 @ sigma2))`` for symmetric PSD ``sigma1``, ``sigma2`` [D, D], in float64."""
    s1 = np.asarray(sigma1, dtype=np.float64)
    s2 = np.asarray(sigma2, dtype=np.float64)
    if s1.ndim != 2 or s1.shape[0] != s1.shape[1] or s1.shape != s2.shape:
        raise Sg2evalError(
            f"covariances must be square and of equal shape, got {s1.shape} and {s2.shape}; "
            "compute both with the same detector"
        )
    if method == "eigh":
        factor = psd_factor(s1)  # [D, D], S1 = F F^T
        middle = factor.T @ s2 @ factor  # [D, D], symmetric PSD up to round-off
        middle = (middle + middle.T) * 0.5
        return float(np.sqrt(clip_round_off(np.linalg.eigvalsh(middle))).sum())
    if method == "eigvals":
        eigenvalues = np.linalg.eigvals(s1 @ s2).astype(np.complex128)
        return float(np.sqrt(eigenvalues).real.sum())
    if method == "sqrtm":
        import scipy.linalg  # 0.25 s to import; only this method needs it

        root = scipy.linalg.sqrtm(s1 @ s2)
        return float(np.trace(root).real)
    raise Sg2evalError(f"unknown sqrtm method {method!r}; use one of {', '.join(SQRTM_METHODS)}")
