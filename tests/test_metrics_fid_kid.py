"""FID and KID math: closed forms on Gaussians, the matrix square root routes, and peer agreement."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from sg2eval.errors import Sg2evalError
from sg2eval.metrics.fid import FeatureMoments, GaussianStats, compute_fid, frechet_distance, gaussian_stats
from sg2eval.metrics.kid import KidConfig, compute_kid, kid_subset_values, per_subset_cost, whole_set_cost
from sg2eval.metrics.linalg import SQRTM_METHODS, psd_factor, trace_sqrt_product


def random_spd(rng: np.random.Generator, dim: int, rank: int | None = None) -> np.ndarray:
    factor = rng.standard_normal((dim, rank or dim))
    return factor @ factor.T / (rank or dim)


def shared_basis_pair(rng: np.random.Generator, dim: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Two covariances with one eigenbasis: tr sqrt(S1 S2) = sum sqrt(a_i b_i) exactly."""
    basis, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    a = rng.uniform(0.1, 3.0, dim)
    b = rng.uniform(0.1, 3.0, dim)
    return (basis * a) @ basis.T, (basis * b) @ basis.T, float(np.sqrt(a * b).sum())


@pytest.mark.parametrize("method", SQRTM_METHODS)
def test_trace_sqrt_product_closed_form(method: str) -> None:
    s1, s2, expected = shared_basis_pair(np.random.default_rng(0), 40)
    assert trace_sqrt_product(s1, s2, method) == pytest.approx(expected, rel=1e-9)  # type: ignore[arg-type]


@pytest.mark.parametrize("method", SQRTM_METHODS)
def test_trace_sqrt_product_non_commuting_matches_definition(method: str) -> None:
    rng = np.random.default_rng(1)
    s1, s2 = random_spd(rng, 30), random_spd(rng, 30)
    # Definition through the symmetric form: S1^(1/2) S2 S1^(1/2) has the same eigenvalues as S1 S2.
    root = scipy.linalg.sqrtm(s1).real
    expected = np.trace(scipy.linalg.sqrtm(root @ s2 @ root).real)
    assert trace_sqrt_product(s1, s2, method) == pytest.approx(expected, rel=1e-8)  # type: ignore[arg-type]


def test_eigh_route_stable_for_singular_covariances() -> None:
    rng = np.random.default_rng(2)
    dim = 64
    features_a = rng.standard_normal((10, dim))  # 10 samples < 64 dims: rank-9 covariance
    features_b = rng.standard_normal((12, dim))
    s1 = np.cov(features_a, rowvar=False)
    s2 = np.cov(features_b, rowvar=False)
    value = trace_sqrt_product(s1, s2, "eigh")
    assert np.isfinite(value) and value >= 0
    # Same quantity via the Gram trick: nonzero eigenvalues of S1 S2 equal those of (A^T B)(B^T A) with
    # S1 = A A^T, S2 = B B^T, a small well-conditioned problem.
    a = (features_a - features_a.mean(0)).T / np.sqrt(9)
    b = (features_b - features_b.mean(0)).T / np.sqrt(11)
    gram = a.T @ b
    expected = np.sqrt(np.clip(np.linalg.eigvalsh(gram @ gram.T), 0, None)).sum()
    assert value == pytest.approx(expected, rel=1e-7)
    # The factor falls back from Cholesky to the symmetric square root and still reproduces S1.
    np.testing.assert_allclose(psd_factor(s1) @ psd_factor(s1).T, s1, atol=1e-12)
    # FID of a singular set with itself is still 0.
    stats = gaussian_stats(features_a)
    assert abs(frechet_distance(stats, stats)) < 1e-8


def test_eigh_route_keeps_small_genuine_eigenvalues() -> None:
    # Shared eigenbasis with S1 eigenvalues spanning 1e-13..1: the closed form sum sqrt(a b) is met to 1e-10,
    # i.e. the round-off threshold does not drop real eigenvalues (a D * eps threshold misses by 3e-8).
    rng = np.random.default_rng(11)
    basis, _ = np.linalg.qr(rng.standard_normal((256, 256)))
    a, b = np.logspace(-13, 0, 256), rng.uniform(0.1, 2.0, 256)
    s1, s2 = (basis * a) @ basis.T, (basis * b) @ basis.T
    s1, s2 = (s1 + s1.T) / 2, (s2 + s2.T) / 2
    assert trace_sqrt_product(s1, s2, "eigh") == pytest.approx(np.sqrt(a * b).sum(), rel=1e-10)


def test_fid_between_gaussians_closed_form() -> None:
    rng = np.random.default_rng(3)
    s1, s2, trace_root = shared_basis_pair(rng, 16)
    mu1, mu2 = rng.standard_normal(16), rng.standard_normal(16)
    expected = float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * trace_root)
    value = frechet_distance(GaussianStats(mu1, s1, 100), GaussianStats(mu2, s2, 100))
    assert value == pytest.approx(expected, rel=1e-10)
    # 1-D sanity: (m1-m2)^2 + (s1 - s2)^2 for standard deviations s1, s2.
    one = frechet_distance(
        GaussianStats(np.array([1.0]), np.array([[4.0]]), 2),
        GaussianStats(np.array([-2.0]), np.array([[9.0]]), 2),
    )
    assert one == pytest.approx(9.0 + 1.0)


def test_fid_of_sampled_gaussians_approaches_closed_form() -> None:
    rng = np.random.default_rng(4)
    dim, num = 8, 200_000
    s1, s2, trace_root = shared_basis_pair(rng, dim)
    mu2 = np.full(dim, 0.5)
    x = rng.multivariate_normal(np.zeros(dim), s1, size=num)
    y = rng.multivariate_normal(mu2, s2, size=num)
    expected = float(mu2 @ mu2 + np.trace(s1) + np.trace(s2) - 2 * trace_root)
    value = compute_fid(gaussian_stats(x), gaussian_stats(y)).value
    assert value == pytest.approx(expected, abs=0.05)


def test_fid_of_set_with_itself_is_zero() -> None:
    features = np.random.default_rng(5).standard_normal((300, 32)).astype(np.float32) + 5
    stats = gaussian_stats(features)
    assert abs(compute_fid(stats, stats).value) < 1e-9


def test_moments_match_numpy_and_do_not_depend_on_batch_size() -> None:
    features = np.random.default_rng(6).standard_normal((257, 20)).astype(np.float32) * 3 + 100
    reference_mu = features.astype(np.float64).mean(0)
    reference_cov = np.cov(features.astype(np.float64), rowvar=False)
    results = []
    for batch in (1, 7, 64, 257):
        moments = FeatureMoments(20)
        for start in range(0, len(features), batch):
            moments.update(torch.from_numpy(features[start : start + batch]))
        results.append(moments.gaussian("unbiased"))
    for stats in results:
        np.testing.assert_allclose(stats.mu, reference_mu, rtol=1e-12)
        np.testing.assert_allclose(stats.sigma, reference_cov, rtol=1e-9, atol=1e-12)
    biased = FeatureMoments.from_state(moments.state()).gaussian("biased")
    np.testing.assert_allclose(
        biased.sigma, np.cov(features.astype(np.float64), rowvar=False, bias=True), rtol=1e-9, atol=1e-12
    )


def test_fid_rejects_bad_covariance_name_and_mismatched_dims() -> None:
    with pytest.raises(Sg2evalError, match="covariance"):
        gaussian_stats(np.ones((4, 2)), "ada")  # type: ignore[arg-type]
    a = GaussianStats(np.zeros(2), np.eye(2), 3)
    b = GaussianStats(np.zeros(3), np.eye(3), 3)
    with pytest.raises(Sg2evalError, match="same detector"):
        frechet_distance(a, b)


def test_fid_matches_pytorch_fid_and_torch_fidelity_on_stats() -> None:
    from pytorch_fid.fid_score import calculate_frechet_distance
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    rng = np.random.default_rng(7)
    x = rng.standard_normal((500, 64)) + 0.2
    y = rng.standard_normal((400, 64)) * 1.1
    ours = compute_fid(gaussian_stats(x), gaussian_stats(y)).value
    mx, sx = x.mean(0), np.cov(x, rowvar=False)
    my, sy = y.mean(0), np.cov(y, rowvar=False)
    peer_a = calculate_frechet_distance(mx, sx, my, sy)
    peer_b = fid_statistics_to_metric({"mu": mx, "sigma": sx}, {"mu": my, "sigma": sy}, False)
    assert ours == pytest.approx(peer_a, rel=1e-8)
    assert ours == pytest.approx(peer_b["frechet_inception_distance"], rel=1e-8)


@pytest.mark.parametrize(
    ("num_real", "num_fake", "subsets", "size"),
    [(120, 110, 10, 50), (200, 180, 20, 150)],  # per-subset kernels; whole-set kernels (cheaper here)
)
def test_kid_both_kernel_paths_match_torch_fidelity(
    num_real: int, num_fake: int, subsets: int, size: int
) -> None:
    from torch_fidelity.metric_kid import kid_features_to_metric

    rng = np.random.default_rng(8)
    real = rng.standard_normal((num_real, 16)) + 0.3
    fake = rng.standard_normal((num_fake, 16))
    config = KidConfig(num_subsets=subsets, subset_size=size, row_batch=7)  # uneven row blocks
    whole = whole_set_cost(num_fake, num_real, 16, config) < per_subset_cost(size, 16, config)
    assert whole == (size == 150)
    ours = compute_kid(real, fake, config)
    peer = kid_features_to_metric(
        torch.from_numpy(fake),
        torch.from_numpy(real),
        kid_subsets=subsets,
        kid_subset_size=size,
        verbose=False,
    )
    assert ours.values["kid"] == pytest.approx(peer["kernel_inception_distance_mean"], rel=1e-10)
    assert ours.values["kid_std"] == pytest.approx(peer["kernel_inception_distance_std"], rel=1e-10)
    assert ours.params["subset_size"] == size


def test_kid_kernel_path_follows_cost() -> None:
    config = KidConfig()  # 100 subsets of 1000
    assert whole_set_cost(5000, 5000, 2048, config) < per_subset_cost(1000, 2048, config)
    assert whole_set_cost(50_000, 50_000, 2048, config) > per_subset_cost(1000, 2048, config)


def test_kid_near_zero_for_same_distribution_and_positive_for_shift() -> None:
    rng = np.random.default_rng(9)
    real = rng.standard_normal((400, 8))
    same = rng.standard_normal((400, 8))
    shifted = rng.standard_normal((400, 8)) + 1.0
    config = KidConfig(num_subsets=20, subset_size=200)
    near = compute_kid(real, same, config).values["kid"]
    far = compute_kid(real, shifted, config).values["kid"]
    assert abs(near) < 0.02 < far


def test_kid_unbiased_estimator_on_tiny_kernel_by_hand() -> None:
    # Two 1-D samples of size 2 with gamma=1, coef0=0, degree=1: k(x, y) = x*y.
    real = np.array([[1.0], [2.0]])
    fake = np.array([[3.0], [5.0]])
    config = KidConfig(num_subsets=1, subset_size=2, degree=1, gamma=1.0, coef0=0.0)
    # within: (3*5*2 + 1*2*2) / 2 = 17; across: 2 * (3+5)*(1+2) / 4 = 12.
    assert kid_subset_values(real, fake, config)[0] == pytest.approx(5.0)


def test_kid_shrinks_subset_to_smaller_set() -> None:
    rng = np.random.default_rng(10)
    result = compute_kid(rng.standard_normal((30, 4)), rng.standard_normal((20, 4)), KidConfig(num_subsets=3))
    assert result.params["subset_size"] == 20
    with pytest.raises(Sg2evalError, match="at least 2"):
        compute_kid(np.ones((1, 4)), np.ones((5, 4)))
