"""Improved precision/recall: hand-made cases, an independent numpy implementation, and prdc."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sg2eval.errors import Sg2evalError
from sg2eval.metrics.pr import PrConfig, compute_precision_recall, knn_radii, precision_recall_values


def numpy_precision_recall(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    """Straightforward full-matrix definition in float64 (Kynkäniemi et al. Sec. 3, official ``<=``)."""

    def sq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)

    real64, fake64 = real.astype(np.float64), fake.astype(np.float64)
    real_radii = np.sort(sq(real64, real64), axis=1)[:, k]
    fake_radii = np.sort(sq(fake64, fake64), axis=1)[:, k]
    cross = sq(fake64, real64)  # [M, N]
    precision = (cross <= real_radii[None, :]).any(axis=1).mean()
    recall = (cross.T <= fake_radii[None, :]).any(axis=1).mean()
    return float(precision), float(recall)


def test_identical_sets_give_one_one() -> None:
    features = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    assert precision_recall_values(features, features.copy()) == (1.0, 1.0)


def test_far_apart_clusters_give_zero_zero() -> None:
    rng = np.random.default_rng(1)
    real = rng.standard_normal((40, 8)).astype(np.float32)
    fake = rng.standard_normal((40, 8)).astype(np.float32) + 100.0
    assert precision_recall_values(real, fake) == (0.0, 0.0)


def test_known_partial_overlap() -> None:
    # Real: a cluster at the origin. Fake: 30 copies of real samples (distance 0, always inside) and 10
    # samples in a far cluster (never inside): precision is exactly 30/40.
    rng = np.random.default_rng(2)
    real = rng.standard_normal((60, 4))
    fake = np.concatenate([real[:30], rng.standard_normal((10, 4)) + 50.0])
    precision, recall = precision_recall_values(real, fake, PrConfig(k=3))
    assert precision == 30 / 40
    # Recall: each copied real lies in its copy's neighbourhood; the other reals only sometimes.
    assert 30 / 60 <= recall < 1.0
    assert recall == pytest.approx(numpy_precision_recall(real, fake, 3)[1])


def test_radius_is_kth_neighbour_excluding_self() -> None:
    points = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    # Squared distances from 0: [0, 1, 9, 49]; k=1 -> second smallest = 1, k=2 -> 9.
    assert knn_radii(points, PrConfig(k=1)).tolist() == [1.0, 1.0, 4.0, 16.0]
    assert knn_radii(points, PrConfig(k=2)).tolist() == [9.0, 4.0, 9.0, 36.0]


@pytest.mark.parametrize("batch", [6, 10_000])  # 17 tiles of 6 rows; the 4 tiles of SELF_TILES
def test_radii_of_symmetric_tiles_match_brute_force_and_every_share(batch: int) -> None:
    features = torch.from_numpy(np.random.default_rng(5).standard_normal((100, 8)).astype(np.float32))
    config = PrConfig(k=3, row_batch=batch, col_batch=batch)
    brute = torch.cdist(features.double(), features.double()).square().sort(dim=1).values[:, 3]
    whole = knn_radii(features, config)
    assert torch.allclose(whole.double(), brute, rtol=1e-5, atol=1e-5)
    for share in (range(0, 37), range(37, 41), range(41, 100), range(50, 50)):
        assert torch.equal(knn_radii(features, config, share), whole[share.start : share.stop])


def test_boundary_is_inclusive() -> None:
    # Real radii with k=1 are exactly 1 (squared); a fake at distance exactly 1 from a real counts (<=).
    real = np.array([[0.0], [1.0], [2.0]])
    fake = np.array([[3.0], [10.0], [11.0]])
    precision, _ = precision_recall_values(real, fake, PrConfig(k=1))
    assert precision == pytest.approx(1 / 3)


@pytest.mark.parametrize("batch", [7, 10_000])
def test_matches_independent_numpy_implementation(batch: int) -> None:
    rng = np.random.default_rng(3)
    real = rng.standard_normal((90, 16)).astype(np.float32)
    fake = (rng.standard_normal((70, 16)) * 1.3 + 0.4).astype(np.float32)
    expected = numpy_precision_recall(real, fake, k=3)
    got = precision_recall_values(real, fake, PrConfig(k=3, row_batch=batch, col_batch=batch))
    assert got == pytest.approx(expected)
    assert 0.0 < expected[0] < 1.0 and 0.0 < expected[1] < 1.0  # a case where both matter


def test_matches_prdc_when_no_distance_ties() -> None:
    from prdc import compute_prdc

    rng = np.random.default_rng(4)
    real = rng.standard_normal((80, 10)).astype(np.float64)
    fake = (rng.standard_normal((80, 10)) + 0.5).astype(np.float64)
    # Continuous random data: no cross distance equals a radius, so prdc's '<' equals the official '<='.
    peer = compute_prdc(real, fake, nearest_k=5)
    ours = precision_recall_values(real, fake, PrConfig(k=5))
    assert ours == pytest.approx((peer["precision"], peer["recall"]))


def test_float16_option_close_to_float32() -> None:
    rng = np.random.default_rng(5)
    real = np.abs(rng.standard_normal((100, 32))).astype(np.float32)
    fake = np.abs(rng.standard_normal((100, 32)) * 1.2).astype(np.float32)
    full = precision_recall_values(real, fake, PrConfig(distance_dtype="float32"))
    half = precision_recall_values(real, fake, PrConfig(distance_dtype="float16"))
    assert half == pytest.approx(full, abs=0.05)


def test_result_and_errors() -> None:
    rng = np.random.default_rng(6)
    result = compute_precision_recall(rng.standard_normal((10, 3)), rng.standard_normal((12, 3)))
    assert set(result.values) == {"precision", "recall"}
    assert result.params["k"] == 3 and result.params["num_fake"] == 12
    frame = result.to_frame()
    assert list(frame["precision"]) == [result.values["precision"]]
    with pytest.raises(Sg2evalError, match="at least 4 samples"):
        precision_recall_values(np.ones((3, 2)), np.ones((5, 2)))
    with pytest.raises(Sg2evalError, match="same D"):
        precision_recall_values(np.ones((5, 2)), np.ones((5, 3)))
