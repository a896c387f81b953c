"""How firmly two projection-distance samples separate (sg2eval.attribution.separation_stability)."""

from __future__ import annotations

import numpy as np
import pytest

from sg2eval.attribution import Calibration, separation_stability
from sg2eval.errors import Sg2evalError


def test_separated_samples_are_a_stable_verdict_either_way() -> None:
    generated, real = np.linspace(0.1, 0.3, 12), np.linspace(0.5, 0.9, 12)
    forward = separation_stability(generated, real)
    assert forward.closer_share == 1.0 and forward.stable
    assert forward.gap == pytest.approx(np.median(real) - np.median(generated))
    assert 0 < forward.gap_interval[0] <= forward.gap <= forward.gap_interval[1]
    assert forward.statement().startswith("generated images project closer in 100%")
    backward = separation_stability(real, generated)
    assert backward.closer_share == 0.0 and backward.stable
    assert backward.statement().startswith("real images project closer in 100%")


def test_overlapping_samples_are_not_a_verdict() -> None:
    rng = np.random.default_rng(1)
    generated, real = rng.normal(1.0, 1.0, 8), rng.normal(1.0, 1.0, 8)
    stability = separation_stability(generated, real)
    assert 0.05 < stability.closer_share < 0.95 and not stability.stable
    assert stability.gap_interval[0] < 0 < stability.gap_interval[1]
    assert stability.statement().startswith("not separated at this sample size")


def test_resampling_is_seeded_and_needs_both_samples() -> None:
    generated, real = [0.4, 0.9, 1.3, 0.2], [0.8, 1.1, 0.3, 1.7]
    assert separation_stability(generated, real) == separation_stability(generated, real)
    assert separation_stability(generated, real, seed=1) != separation_stability(generated, real, seed=2)
    with pytest.raises(Sg2evalError, match="at least one generated and one real"):
        separation_stability([], real)


def test_calibration_summary_cites_its_stability() -> None:
    calibration = Calibration.from_distances(
        [0.1, 0.2, 0.25], [0.6, 0.7, 0.9], network_sha256="0" * 64, network_path="net.sg2",
        lpips={"lpips": "shapes-lpips"}, projector={"num_steps": 10}, real_source={}, generation={},
    )
    stability = calibration.summary()["stability"]
    assert stability == calibration.stability().to_dict()
    assert stability["stable"] and stability["closer_share"] == 1.0
    assert "generated images" in stability["statement"]
