"""Perceptual path length: pure steps against closed forms and numpy, the sampling loop against analytic
values on linear generators, batch-size independence, and agreement with torchmetrics."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn

from sg2eval.errors import Sg2evalError
from sg2eval.metrics import ppl as P
from sg2eval.plots import save_histogram
from sg2eval.ppl_presets import PRESETS, PPLConfig, get_preset
from sg2model.core.errors import Sg2Error
from sg2model.core.images import save_image_grid
from tests.helpers import tiny_networks

HALF = 255 / 2  # [-1, 1] -> [0, 255] scale


def quadratic(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """Sum of squared pixel differences: a distance that is exactly quadratic."""
    return (x0 - x1).square().flatten(1).sum(1)


class LinearGenerator(nn.Module):
    """mapping(z) = z on every layer; synthesis(ws) = scale * ws[:, 0] as a [N, 1, side, side] image, so the
    image is an exact linear function of w."""

    def __init__(self, side: int = 4, scale: float = 0.5, num_ws: int = 3) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.num_ws, self.side, self.scale = side * side, 0, num_ws, side, scale
        self.synthesis = self._synthesis
        self.synthesis_calls: list[int] = []

    def mapping(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        assert c.shape == (z.shape[0], 0)
        return z[:, None, :].repeat(1, self.num_ws, 1)

    def _synthesis(
        self, ws: torch.Tensor, noise_mode: str, noise_inputs: dict, force_fp32: bool
    ) -> torch.Tensor:
        assert torch.equal(ws[:, 0], ws[:, -1]) and noise_inputs == {}
        self.synthesis_calls.append(ws.shape[0])
        return self.scale * ws[:, 0].reshape(-1, 1, self.side, self.side)


class TinySynthesis(nn.Module):
    """A small nonlinear style-modulated synthesis net 4 -> 8 -> 16 with per-layer noise inputs."""

    def __init__(self, w_dim: int, noise: bool) -> None:
        super().__init__()
        self.const = nn.Parameter(torch.randn(8, 4, 4))
        self.affines = nn.ModuleList([nn.Linear(w_dim, 8) for _ in range(3)])
        self.convs = nn.ModuleList([nn.Conv2d(8, 8, 3, padding=1) for _ in range(3)])
        self.torgb = nn.Conv2d(8, 3, 1)
        self.noise = noise
        self.resolutions = (4, 8, 16)

    def noise_shapes(self) -> dict[str, tuple[int, int]]:
        return {f"b{r}.conv": (r, r) for r in self.resolutions} if self.noise else {}

    def forward(
        self,
        ws: torch.Tensor,
        noise_mode: str = "const",
        noise_inputs: dict | None = None,
        force_fp32: bool = False,
    ) -> torch.Tensor:
        x = self.const.expand(ws.shape[0], -1, -1, -1)
        for i, (affine, conv, r) in enumerate(zip(self.affines, self.convs, self.resolutions, strict=True)):
            if i > 0:
                x = F.interpolate(x, scale_factor=2.0)
            x = conv(x * affine(ws[:, i])[:, :, None, None])
            if self.noise and noise_inputs is not None:
                x = x + 0.5 * noise_inputs[f"b{r}.conv"]
            x = F.leaky_relu(x, 0.2)
        return torch.tanh(self.torgb(x))


class TinyGenerator(nn.Module):
    def __init__(self, seed: int = 0, noise: bool = True, z_dim: int = 8, c_dim: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.z_dim, self.c_dim, self.num_ws = z_dim, c_dim, 3
        self.fc = nn.Linear(z_dim + c_dim, 8)
        self.synthesis = TinySynthesis(8, noise)

    def mapping(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        x = z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt()
        w = F.leaky_relu(self.fc(torch.cat([x, c], dim=1)), 0.2)
        return w[:, None, :].repeat(1, self.num_ws, 1)


def run(G, config: PPLConfig, distance=quadratic, seed: int = 0, batch_size: int = 8):
    return P.compute_ppl(G, distance, config, seed=seed, batch_size=batch_size)


# ----------------------------------------------------------------------------------------------------------
# Pure steps.


def test_slerp_matches_the_sine_weighted_formula_and_keeps_unit_length() -> None:
    gen = torch.Generator().manual_seed(1)
    a, b = (
        torch.randn(64, 16, generator=gen, dtype=torch.float64),
        torch.randn(64, 16, generator=gen, dtype=torch.float64),
    )
    t = torch.rand(64, 1, generator=gen, dtype=torch.float64) * 1.2 - 0.1
    ua, ub = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    omega = torch.acos((ua * ub).sum(1, keepdim=True))
    expected = (torch.sin((1 - t) * omega) * ua + torch.sin(t * omega) * ub) / torch.sin(omega)
    out = P.slerp(a, b, t)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(64, dtype=torch.float64))
    # Endpoints and constant angular speed: angle(out, a) = t * omega.
    torch.testing.assert_close(P.slerp(a, b, torch.zeros_like(t)), ua)
    torch.testing.assert_close(P.slerp(a, b, torch.ones_like(t)), ub)
    angle = torch.acos((out * ua).sum(1, keepdim=True).clamp(-1, 1))
    torch.testing.assert_close(angle, (t * omega).abs(), rtol=1e-6, atol=1e-6)


def test_lerp_is_linear_and_hits_the_endpoints() -> None:
    a, b = torch.randn(5, 3, 7), torch.randn(5, 3, 7)
    t = torch.tensor([0.0, 1.0, 0.25, 0.5, 2.0])[:, None, None]
    out = P.lerp(a, b, t)
    torch.testing.assert_close(out[0], a[0])
    torch.testing.assert_close(out[1], b[1])
    torch.testing.assert_close(out[2], 0.75 * a[2] + 0.25 * b[2])
    torch.testing.assert_close(out, torch.lerp(a, b, t))


def test_face_crop_is_the_stylegan_face_box() -> None:
    h = 64
    rows = torch.arange(h).view(1, 1, h, 1).expand(1, 1, h, h)
    cols = torch.arange(h).view(1, 1, 1, h).expand(1, 1, h, h)
    crop_rows, crop_cols = P.face_crop(rows), P.face_crop(cols)
    assert crop_rows.shape == (1, 1, 32, 32)
    assert crop_rows[0, 0, :, 0].tolist() == list(range(24, 56))  # 3c:7c with c = 8
    assert crop_cols[0, 0, 0, :].tolist() == list(range(16, 48))  # 2c:6c


def test_box_downsample_averages_blocks_like_a_loop() -> None:
    x = torch.randn(2, 3, 12, 8, dtype=torch.float64)
    out = P.box_downsample(x, 4)
    ref = np.zeros((2, 3, 3, 2))
    for i in range(3):
        for j in range(2):
            ref[:, :, i, j] = x[:, :, 4 * i : 4 * i + 4, 4 * j : 4 * j + 4].numpy().mean(axis=(2, 3))
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)
    assert P.box_downsample(x, 1) is x
    with pytest.raises(Sg2evalError, match="box-downsample"):
        P.box_downsample(x, 5)


def test_prepare_images_orders_crop_and_downsampling_as_tf_or_ada() -> None:
    img = torch.rand(1, 3, 1024, 1024) * 2 - 1
    tf = P.prepare_images(img, crop=True)
    assert tf.shape[-2:] == (256, 256)  # crop to 512, then factor 512 // 256 = 2
    torch.testing.assert_close(tf, (P.box_downsample(P.face_crop(img), 2) + 1) * HALF)
    ada = P.prepare_images(img, crop=True, downsample_before_crop=True)
    assert ada.shape[-2:] == (128, 128)
    # ada's formulation: crop first, then the factor of the uncropped resolution (1024 // 256 = 4).
    torch.testing.assert_close(ada, (P.box_downsample(P.face_crop(img), 4) + 1) * HALF, rtol=1e-5, atol=1e-4)
    small = torch.rand(2, 3, 256, 256) * 2 - 1
    torch.testing.assert_close(P.prepare_images(small, crop=False), (small + 1) * 255 / 2)
    assert P.prepare_images(small, crop=True).shape[-2:] == (128, 128)


@pytest.mark.parametrize("n", [2, 7, 100, 1001])
def test_percentile_mask_matches_sorted_order_statistics(n: int) -> None:
    scores = np.random.default_rng(n).lognormal(size=n)
    ordered = np.sort(scores)
    lo = ordered[math.floor(0.01 * (n - 1))]  # numpy 'lower'
    hi = ordered[math.ceil(0.99 * (n - 1))]  # numpy 'higher'
    np.testing.assert_array_equal(P.percentile_mask(scores), (scores >= lo) & (scores <= hi))
    summary = P.summarize(scores)
    kept = scores[(scores >= lo) & (scores <= hi)]
    assert summary.ppl == pytest.approx(kept.mean(), rel=1e-12)
    assert summary.sem == pytest.approx(kept.std(ddof=1) / math.sqrt(kept.size), rel=1e-12)


def test_percentile_examples_come_from_the_tails() -> None:
    scores = np.random.default_rng(0).normal(size=500)
    low, high = P.percentile_examples(scores, count=8)
    assert len(low) == len(high) == 8 and len(set(low)) == 8
    assert scores[low].max() <= np.percentile(scores, 10) and scores[high].min() >= np.percentile(scores, 90)


# ----------------------------------------------------------------------------------------------------------
# The sampling loop against closed forms.


def test_w_space_ppl_of_a_linear_generator_is_analytic() -> None:
    """img = s * w, w = z: the score is (255/2)^2 s^2 |z1 - z0|^2 for every t and epsilon, and
    |z1 - z0|^2 / 2 ~ chi2(D), whose 1%-99% trimmed mean is D (F_{D+2}(q99) - F_{D+2}(q01)) / 0.98."""
    G = LinearGenerator(side=4, scale=0.5)
    config = PPLConfig(space="w", sampling="end", num_samples=4000, epsilon=1e-2)
    result = run(G, config, batch_size=500)
    draws = P.draw_pairs(0, range(4000), G.z_dim, 0, full=False)
    k = (HALF * G.scale) ** 2
    exact = k * (draws.z1 - draws.z0).double().square().sum(1).numpy()
    np.testing.assert_allclose(result.per_item["distance"], exact, rtol=1e-4)
    assert result.value == pytest.approx(exact[P.percentile_mask(exact)].mean(), rel=1e-4)
    d = G.z_dim
    q01, q99 = stats.chi2.ppf([0.01, 0.99], d)
    analytic = 2 * k * d * (stats.chi2.cdf(q99, d + 2) - stats.chi2.cdf(q01, d + 2)) / 0.98
    assert abs(result.value - analytic) < 4 * result.values["ppl_sem"]
    # Full paths give the same per-pair scores (the image is linear in w), only t differs.
    full = run(G, config.replace(sampling="full"), batch_size=500)
    np.testing.assert_allclose(full.per_item["distance"], result.per_item["distance"], rtol=1e-4)
    assert full.per_item["t"].min() >= 0 and full.per_item["t"].max() < 1 and full.per_item["t"].std() > 0.2
    assert not result.per_item["t"].any()


def test_epsilon_halving_leaves_a_linear_generator_unchanged_at_the_official_epsilon() -> None:
    G = LinearGenerator(side=4, scale=0.5)
    for sampling in ("end", "full"):
        config = PPLConfig(space="w", sampling=sampling, num_samples=400, epsilon=1e-4)
        base = run(G, config, batch_size=100)
        half = run(G, config.replace(epsilon=5e-5), batch_size=100)
        assert half.value == pytest.approx(base.value, rel=2e-3)
        np.testing.assert_allclose(half.per_item["distance"], base.per_item["distance"], rtol=5e-2)


def test_z_space_ppl_of_a_linear_generator_is_the_chord_of_the_great_circle() -> None:
    """w = slerp(z0, z1; t) is a unit vector moving at angular speed omega = angle(z0, z1), so the score is
    (255/2)^2 s^2 (2 sin(omega eps / 2) / eps)^2 for every t."""
    G = LinearGenerator(side=4, scale=3.0)
    eps = 1e-3
    draws = P.draw_pairs(5, range(300), G.z_dim, 0, full=True)
    a = draws.z0.double() / draws.z0.double().norm(dim=1, keepdim=True)
    b = draws.z1.double() / draws.z1.double().norm(dim=1, keepdim=True)
    omega = torch.acos((a * b).sum(1)).numpy()
    exact = (HALF * G.scale * 2 * np.sin(omega * eps / 2) / eps) ** 2
    for sampling in ("full", "end"):
        result = run(G, PPLConfig(space="z", sampling=sampling, num_samples=300, epsilon=eps), seed=5)
        np.testing.assert_allclose(result.per_item["distance"], exact, rtol=2e-2)
        assert result.value == pytest.approx(exact[P.percentile_mask(exact)].mean(), rel=2e-3)


def test_both_images_of_a_pair_go_through_one_synthesis_call() -> None:
    G = LinearGenerator()
    run(G, PPLConfig(num_samples=10), batch_size=4)
    assert G.synthesis_calls == [8, 8, 4]


# ----------------------------------------------------------------------------------------------------------
# Determinism, noise sharing, conditional generators.


def test_random_inputs_of_a_pair_do_not_depend_on_the_batch_it_is_drawn_in() -> None:
    whole = P.draw_pairs(7, range(11), z_dim=8, c_dim=3, full=True)
    parts = [P.draw_pairs(7, idx, z_dim=8, c_dim=3, full=True) for idx in ([0], range(1, 5), range(5, 11))]
    for field in ("z0", "z1", "t", "c"):
        assert torch.equal(getattr(whole, field), torch.cat([getattr(p, field) for p in parts]))
    shapes = {"b4.conv": (4, 4)}
    for group in (1, 3):
        noise = P.draw_noise(7, range(11), shapes, group)["b4.conv"]
        split = [P.draw_noise(7, idx, shapes, group)["b4.conv"] for idx in (range(0, 2), range(2, 11))]
        assert torch.equal(noise, torch.cat(split))


@pytest.mark.parametrize("space,sampling", [("w", "full"), ("z", "end")])
def test_same_seed_different_batch_sizes_give_identical_scores(space: str, sampling: str) -> None:
    """Bitwise identical when the generator's arithmetic is per-sample (the linear generator)."""
    G = LinearGenerator(scale=2.0)
    config = PPLConfig(space=space, sampling=sampling, num_samples=13, epsilon=1e-3)
    runs = [run(G, config, seed=7, batch_size=b) for b in (1, 4, 13)]
    for other in runs[1:]:
        np.testing.assert_array_equal(other.per_item["distance"], runs[0].per_item["distance"])
        np.testing.assert_array_equal(other.per_item["t"], runs[0].per_item["t"])
        assert other.value == runs[0].value
    different = run(G, config, seed=8, batch_size=4)
    assert not np.array_equal(different.per_item["distance"], runs[0].per_item["distance"])


@pytest.mark.parametrize("space,sampling,noise_group", [("w", "full", 1), ("z", "end", 3)])
def test_batch_size_changes_a_nonlinear_generator_only_by_float32_rounding(
    space: str, sampling: str, noise_group: int
) -> None:
    """BLAS and convolution kernels round differently for different batch shapes; the score is a
    difference of two images divided by eps^2, so it inherits about 1e-7 / eps of relative rounding."""
    G = TinyGenerator(seed=3, noise=True)
    config = PPLConfig(space=space, sampling=sampling, num_samples=11, epsilon=1e-2, noise_group=noise_group)
    runs = [run(G, config, seed=7, batch_size=b) for b in (1, 4, 11)]
    for other in runs[1:]:
        np.testing.assert_allclose(other.per_item["distance"], runs[0].per_item["distance"], rtol=1e-3)
        np.testing.assert_array_equal(other.per_item["t"], runs[0].per_item["t"])
    different = run(G, config, seed=8, batch_size=4)
    assert not np.allclose(different.per_item["distance"], runs[0].per_item["distance"], rtol=1e-2)


def test_noise_is_shared_within_a_pair_and_within_a_group_only() -> None:
    shapes = {"b4.conv": (4, 4), "b8.conv": (8, 8)}
    per_pair = P.draw_noise(0, range(6), shapes, noise_group=1)
    assert per_pair["b8.conv"].shape == (6, 1, 8, 8)
    assert not torch.equal(per_pair["b4.conv"][0], per_pair["b4.conv"][1])
    grouped = P.draw_noise(0, range(6), shapes, noise_group=3)
    for name in shapes:
        assert torch.equal(grouped[name][0], grouped[name][2]) and not torch.equal(
            grouped[name][2], grouped[name][3]
        )
    # A batch that starts inside a group sees that group's draw.
    torch.testing.assert_close(P.draw_noise(0, [4, 5], shapes, 3)["b8.conv"], grouped["b8.conv"][4:])

    # A generator whose output is only its noise: both images of every pair are identical.
    G = LinearGenerator()
    G.synthesis = NoiseOnlySynthesis()  # type: ignore[assignment]
    result = run(G, PPLConfig(num_samples=6))
    assert result.per_item["distance"].shape == (6,) and not result.per_item["distance"].any()


class NoiseOnlySynthesis:
    """Ignores ws and returns its single noise input as a 3-channel image."""

    def noise_shapes(self) -> dict[str, tuple[int, int]]:
        return {"n": (4, 4)}

    def __call__(self, ws, noise_mode, noise_inputs, force_fp32):
        assert noise_inputs["n"].shape == (ws.shape[0], 1, 4, 4)
        return noise_inputs["n"].expand(-1, 3, -1, -1)


def test_conditional_generators_get_one_label_per_pair() -> None:
    draws = P.draw_pairs(0, range(200), z_dim=4, c_dim=5, full=False)
    assert torch.equal(draws.c.sum(1), torch.ones(200)) and set(draws.c.argmax(1).tolist()) == set(range(5))
    G = TinyGenerator(seed=1, noise=False, c_dim=5)
    result = run(G, PPLConfig(num_samples=6, epsilon=1e-2))
    assert np.isfinite(result.per_item["distance"]).all() and result.value > 0


# ----------------------------------------------------------------------------------------------------------
# Agreement with torchmetrics' perceptual_path_length (same generator, same LPIPS network).


@pytest.fixture(scope="module")
def lpips_net() -> nn.Module:
    """The lpips package's VGG LPIPS with its shipped linear layers and a seeded random VGG trunk
    (no download)."""
    import lpips

    torch.manual_seed(0)
    return lpips.LPIPS(net="vgg", pretrained=True, pnet_rand=True, verbose=False).eval()


class TorchmetricsAdapter(nn.Module):
    """torchmetrics' generator interface over a generator-like object: ``sample`` returns queued latents
    (or fresh N(0, I) ones), ``forward`` renders them in [0, 255]; 'w' latents go straight to synthesis."""

    def __init__(self, G: TinyGenerator, space: str, queued: list[torch.Tensor] | None = None) -> None:
        super().__init__()
        self.G, self.space, self.queued = G, space, list(queued or [])

    def sample(self, num_samples: int) -> torch.Tensor:
        if self.queued:
            return self.queued.pop(0)
        z = torch.randn(num_samples, self.G.z_dim)
        return self.G.mapping(z, torch.zeros(num_samples, 0)) if self.space == "w" else z

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        ws = latents if self.space == "w" else self.G.mapping(latents, torch.zeros(len(latents), 0))
        return (self.G.synthesis(ws, force_fp32=True) + 1) * HALF


class LpipsOnMinusOneOne(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        return self.net(x0, x1).reshape(-1)


def lpips_on_0_255(net: nn.Module):
    def distance(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        return net(x0 / 127.5 - 1, x1 / 127.5 - 1).reshape(-1)

    return distance


def torchmetrics_scores(
    G: TinyGenerator,
    space: str,
    queued: list[torch.Tensor] | None,
    n: int,
    eps: float,
    lpips_net: nn.Module,
    batch_size: int = 16,
) -> np.ndarray:
    """torchmetrics' per-pair scores (t = 0 only, no outlier removal)."""
    from torchmetrics.functional.image.perceptual_path_length import perceptual_path_length

    with torch.no_grad():
        _, _, scores = perceptual_path_length(
            TorchmetricsAdapter(G, space, queued),
            num_samples=n,
            batch_size=batch_size,
            epsilon=eps,
            interpolation_method="lerp" if space == "w" else "slerp_unit",
            sim_net=LpipsOnMinusOneOne(lpips_net),
            lower_discard=None,
            upper_discard=None,
        )
    return scores.double().numpy()


@pytest.mark.parametrize("space", ["w", "z"])
def test_agrees_with_torchmetrics_pair_by_pair_on_the_same_latents(space: str, lpips_net: nn.Module) -> None:
    G = TinyGenerator(seed=2, noise=False)
    n, eps = 40, 1e-2
    draws = P.draw_pairs(0, range(n), G.z_dim, 0, full=False)
    c = torch.zeros(n, 0)
    if space == "w":
        queued = [G.mapping(draws.z0, c), G.mapping(draws.z1, c)]
    else:  # torchmetrics' slerp_unit weights the raw latents, so give it unit ones (see the next test)
        queued = [P.normalize(draws.z0), P.normalize(draws.z1)]
    theirs = torchmetrics_scores(G, space, queued, n, eps, lpips_net)
    ours = run(
        G, PPLConfig(space=space, sampling="end", num_samples=n, epsilon=eps), lpips_on_0_255(lpips_net)
    )
    np.testing.assert_allclose(ours.per_item["distance"], theirs, rtol=5e-3)


def test_torchmetrics_slerp_unit_scales_z_steps_by_the_latent_norm_ratio(lpips_net: nn.Module) -> None:
    """torchmetrics applies the slerp coefficients to the unnormalized latents: for small eps its step
    from z0 is ``|z1| / |z0|`` times the great-circle step, so its score is ours times ``(|z1| / |z0|)^2``."""
    G = TinyGenerator(seed=2, noise=False)
    n, eps = 12, 4e-3
    draws = P.draw_pairs(1, range(n), G.z_dim, 0, full=False)
    theirs = torchmetrics_scores(G, "z", [draws.z0, draws.z1], n, eps, lpips_net)
    ours = run(G, PPLConfig(space="z", num_samples=n, epsilon=eps), lpips_on_0_255(lpips_net), seed=1)
    ratio = (draws.z1.norm(dim=1) / draws.z0.norm(dim=1)).double().numpy() ** 2
    np.testing.assert_allclose(theirs, ours.per_item["distance"] * ratio, rtol=3e-2)
    assert np.abs(ratio - 1).max() > 0.3  # the effect is large at this z_dim


def test_agrees_with_torchmetrics_within_sampling_error(lpips_net: nn.Module) -> None:
    G = TinyGenerator(seed=4, noise=False)
    n, eps = 300, 1e-3
    torch.manual_seed(123)  # torchmetrics draws its latents from the global generator
    theirs = torchmetrics_scores(G, "w", None, n, eps, lpips_net, batch_size=100)
    their_summary = P.summarize(theirs)  # the official outlier rule on their scores
    ours = run(G, PPLConfig(space="w", num_samples=n, epsilon=eps), lpips_on_0_255(lpips_net), batch_size=50)
    tolerance = 4 * math.hypot(ours.values["ppl_sem"], their_summary.sem)  # 4 standard errors
    assert abs(ours.value - their_summary.ppl) < tolerance < 0.5 * ours.value
    # The whole distributions agree too (two-sample Kolmogorov-Smirnov).
    assert stats.ks_2samp(ours.per_item["distance"], theirs).pvalue > 1e-3


# ----------------------------------------------------------------------------------------------------------
# Presets, config validation, results, plots.


def test_presets_reproduce_the_published_settings() -> None:
    table1 = get_preset("ppl2_wend").config
    assert (table1.space, table1.sampling, table1.crop, table1.num_samples, table1.epsilon) == (
        "w",
        "end",
        False,
        50_000,
        1e-4,
    )
    for name in ("ppl_zfull", "ppl_wfull", "ppl_zend", "ppl_wend"):
        cfg = PRESETS[name].config
        assert (cfg.space, cfg.sampling, cfg.crop, cfg.num_samples) == (name[4], name[5:], True, 50_000)
    for name in ("sg1_zfull", "sg1_wfull", "sg1_zend", "sg1_wend"):
        cfg = PRESETS[name].config
        assert (cfg.space, cfg.sampling, cfg.crop, cfg.num_samples) == (name[4], name[5:], True, 100_000)
        assert PRESETS[name].official_noise_group == 16
    assert all(not p.config.downsample_before_crop and p.config.noise_group == 1 for p in PRESETS.values())
    with pytest.raises(Sg2evalError, match="unknown PPL preset"):
        get_preset("ppl_xend")


@pytest.mark.parametrize(
    "bad",
    [dict(space="x"), dict(sampling="mid"), dict(num_samples=1), dict(epsilon=0.0), dict(noise_group=0)],
)
def test_bad_configs_are_one_clear_error(bad: dict) -> None:
    with pytest.raises(Sg2evalError):
        PPLConfig(**bad)


def test_result_json_has_metric_value_params_and_provenance() -> None:
    result = run(LinearGenerator(), PPLConfig(num_samples=20, epsilon=1e-2), seed=3)
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["metric"] == "ppl" and payload["value"] == pytest.approx(result.values["ppl"])
    assert payload["params"]["seed"] == 3 and payload["params"]["space"] == "w"
    assert payload["provenance"]["lpips"]["name"] == "quadratic" and payload["provenance"]["num_kept"] <= 20
    assert set(result.per_item) == {"index", "t", "distance", "kept"}


def test_ppl_api_applies_the_preset_and_overrides() -> None:
    result = P.ppl(
        LinearGenerator(), "ppl_wfull", num=12, epsilon=1e-2, lpips=quadratic, batch_size=5
    )
    assert result.params["preset"] == "ppl_wfull" and result.params["crop"] is True
    assert result.params["num_samples"] == 12 and result.per_item["t"].any()


def test_render_samples_reproduces_the_images_at_t(tmp_path) -> None:
    G = TinyGenerator(seed=1, noise=True)
    config = PPLConfig(sampling="full", num_samples=4)
    imgs = P.render_samples(G, config, seed=2, indices=[3, 1], batch_size=1)
    img_t, _, _ = P.path_images(G, config, 2, [1], torch.device("cpu"))
    assert imgs.shape == (2, 3, 16, 16) and imgs.dtype == np.uint8
    np.testing.assert_array_equal(imgs[1], (img_t[0] * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy())
    save_image_grid(imgs, tmp_path / "grid.png", columns=2)
    from PIL import Image

    assert Image.open(tmp_path / "grid.png").size == (2 * 18 + 2, 18 + 2)


def test_histogram_png_is_written(tmp_path) -> None:
    scores = np.random.default_rng(0).lognormal(3, 1, size=1000)
    path = tmp_path / "hist.png"
    save_histogram(scores, path, highlight=[(0, np.percentile(scores, 10))], xlabel="PPL", title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(Sg2evalError):
        save_histogram([np.nan], tmp_path / "x.png")
    with pytest.raises(Sg2Error):
        save_image_grid(np.zeros((2, 2, 4, 4), np.uint8), tmp_path / "x.png")


# ----------------------------------------------------------------------------------------------------------
# Real sg2model networks, the LPIPS backends and the command line.


def tiny_sg2_generator(noise_strength: float = 0.5, c_dim: int = 0) -> nn.Module:
    return tiny_networks.tiny_sg2_generator(res=32, noise_strength=noise_strength, c_dim=c_dim)


def test_sg2model_generator_shares_noise_between_the_two_ends_of_a_pair() -> None:
    G = tiny_sg2_generator(noise_strength=2.0)
    config = PPLConfig(space="w", sampling="full", num_samples=4, epsilon=1e-4)
    img_t, img_eps, _ = P.path_images(G, config, 0, range(4), torch.device("cpu"))
    # A 1e-4 step in w barely moves the image; different noise would change it by O(1).
    assert (img_t - img_eps).abs().max() < 1e-2
    other = P.path_images(G, config, 1, range(4), torch.device("cpu"))[0]
    assert (img_t - other).abs().max() > 0.1
    # Official per-minibatch sharing: pairs 0 and 1 see the same noise maps.
    shapes = G.synthesis.noise_shapes()
    noise = P.draw_noise(0, range(4), shapes, noise_group=2)
    assert all(torch.equal(n[0], n[1]) and not torch.equal(n[1], n[2]) for n in noise.values())


@pytest.mark.parametrize("space", ["w", "z"])
def test_sg2model_generator_batch_size_changes_only_rounding(space: str) -> None:
    G = tiny_sg2_generator(c_dim=3)
    config = PPLConfig(space=space, sampling="full", num_samples=6, epsilon=1e-2, noise_group=2)
    runs = [run(G, config, seed=1, batch_size=b) for b in (1, 6)]
    np.testing.assert_allclose(runs[1].per_item["distance"], runs[0].per_item["distance"], rtol=1e-3)
    assert runs[0].value > 0


def test_stylegan1_generator_runs_the_table3_presets_scaled_down() -> None:
    """StyleGAN (v1) networks (config A, the Tables 3-4 generators) take the same path: Z and W, full and end,
    with the face crop on a 64x64 output."""
    from sg2model.networks.stylegan1 import StyleGAN1Generator

    torch.manual_seed(0)
    G = StyleGAN1Generator.from_config("A", 64, z_dim=16, w_dim=16, mapping_layers=2, mapping_features=16,
                                       channel_base=256, channel_max=16).eval()  # fmt: skip
    assert set(G.synthesis.noise_shapes()) >= {"b64.conv1"}
    for name in ("sg1_zfull", "sg1_wend"):
        result = P.ppl(G, name, num=6, epsilon=1e-2, lpips=quadratic, batch_size=3)
        assert result.params["crop"] is True and np.isfinite(result.value) and result.value > 0


@pytest.fixture()
def offline_weights(tmp_path, monkeypatch: pytest.MonkeyPatch):
    from tests.helpers.fake_weights import isolate_weight_search, write_nvidia_vgg16_torchscript

    isolate_weight_search(monkeypatch, tmp_path / "search")
    return write_nvidia_vgg16_torchscript(tmp_path / "vgg16.pt", seed=2)


@pytest.mark.filterwarnings("ignore::sg2eval.weights.UnverifiedWeightsWarning")
def test_ppl_api_with_nvidia_lpips_records_the_backend(offline_weights) -> None:
    G = tiny_sg2_generator()
    result = P.ppl(G, "ppl_wend", num=6, lpips="vgg16-nv", lpips_weights=str(offline_weights))
    assert result.provenance["lpips"]["lpips"] == result.provenance["lpips"]["name"] == "vgg16-nv"
    assert len(result.provenance["lpips"]["weights_sha256"]) == 64
    assert result.params["crop"] is True and np.isfinite(result.value) and result.value > 0


def test_missing_lpips_file_is_one_clear_error(offline_weights) -> None:
    with pytest.raises(Sg2evalError, match="weights not found: vgg16.pt"):
        P.ppl(tiny_sg2_generator(), num=4, lpips="vgg16-nv")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sg2eval.weights.UnverifiedWeightsWarning")
def test_agrees_with_torchmetrics_using_the_lpips_package_vgg(tmp_path, offline_weights, monkeypatch) -> None:
    """Our ``lpips-vgg`` backend on a real sg2model generator against torchmetrics given the lpips package's
    VGG LPIPS loaded with the same (seeded random) backbone file."""
    from tests.helpers.fake_weights import write_vgg16_torchvision
    from tests.test_detectors_vgg_lpips import lpips_package_model

    vgg_pth = write_vgg16_torchvision(tmp_path / "vgg16-397923af.pth", seed=1)
    G = tiny_sg2_generator(noise_strength=0.0)
    n, eps = 30, 1e-2
    result = P.ppl(
        G, num=n, epsilon=eps, lpips="lpips-vgg", lpips_weights=str(vgg_pth), batch_size=10
    )
    assert result.provenance["lpips"]["lpips"] == "lpips-vgg"
    draws = P.draw_pairs(0, range(n), G.z_dim, 0, full=False)
    queued = [G.mapping(draws.z0, None), G.mapping(draws.z1, None)]
    theirs = torchmetrics_scores(G, "w", queued, n, eps, lpips_package_model(vgg_pth, monkeypatch))
    np.testing.assert_allclose(result.per_item["distance"], theirs, rtol=5e-3)


@pytest.mark.filterwarnings("ignore::sg2eval.weights.UnverifiedWeightsWarning")
def test_cli_writes_json_per_image_csv_and_figures(tmp_path, offline_weights) -> None:
    import pandas as pd
    from click.testing import CliRunner

    from sg2eval.cli.main import cli
    from sg2model import save_network

    net = save_network(tmp_path / "tiny.sg2", G_ema=tiny_sg2_generator())
    out = tmp_path / "out"
    args = ["ppl", "--network", str(net), "--preset", "ppl_zfull", "--num", "24", "--no-crop", "--seed", "3"]
    args += ["--batch-size", "5", "--lpips", "vgg16-nv", "--lpips-weights", str(offline_weights)]
    args += ["--device", "cpu", "--json", str(out / "ppl.json"), "--per-image", str(out / "scores.csv")]
    args += ["--plots", str(out / "figs")]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    payload = json.loads((out / "ppl.json").read_text())
    assert payload["metric"] == "ppl" and payload["value"] > 0
    assert payload["params"]["preset"] == "ppl_zfull" and payload["params"]["crop"] is False
    assert payload["params"]["space"] == "z" and payload["params"]["num_samples"] == 24
    assert payload["provenance"]["network"]["format"] == "sg2"
    assert payload["provenance"]["lpips"]["lpips"] == "vgg16-nv"
    table = pd.read_csv(out / "scores.csv")
    assert list(table.columns) == ["index", "t", "distance", "kept"] and len(table) == 24
    assert table["distance"][table["kept"]].mean() == pytest.approx(payload["value"], rel=1e-9)
    for name in ("ppl_histogram.png", "ppl_low.png", "ppl_high.png"):
        assert (out / "figs" / name).read_bytes()[:4] == b"\x89PNG"
    # A missing network is one line with a non-zero exit.
    res = CliRunner().invoke(cli, ["ppl", "--network", str(tmp_path / "nope.sg2"), "--lpips-weights",
                                   str(offline_weights), "--device", "cpu"])  # fmt: skip
    assert res.exit_code != 0 and "does not exist" in res.output
