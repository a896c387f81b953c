"""The Appendix D projector: schedules, noise regularization, batching, convergence, target loading, CLI."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

from sg2eval.errors import Sg2evalError
from sg2eval.projector import (
    Projection,
    Projector,
    ProjectorConfig,
    compute_w_stats,
    learning_rate,
    load_targets,
    noise_regularization,
    normalize_noise_,
    w_noise_scale,
)
from sg2model.core.images import to_uint8
from tests.helpers import tiny_networks


def tiny_generator(res: int = 16, noise_strength: float = 0.05, c_dim: int = 0) -> Any:
    """A small random sg2model generator (16-d latents, <= 32 channels) with visible noise inputs.

    The style affine weights are scaled by 0.3 so that the image changes smoothly with w, as in a trained,
    path-length-regularized network; with fully random styles the toy's W landscape is too rugged for 100
    steps to find its own images reliably (tried: generated-image distances spread up to those of
    non-generated images)."""
    return tiny_networks.tiny_sg2_generator(res, noise_strength, c_dim, affine_scale=0.3)


@pytest.fixture(scope="module")
def fake_lpips(tmp_path_factory: pytest.TempPathFactory):
    """LPIPS by the vgg16-nv backend on a seeded random TorchScript file in NVIDIA's calling convention."""
    from sg2eval.detectors.lpips import get_lpips
    from tests.helpers.fake_weights import write_nvidia_vgg16_torchscript

    path = write_nvidia_vgg16_torchscript(tmp_path_factory.mktemp("lpips") / "vgg16.pt", seed=0)
    return get_lpips("vgg16-nv", weights=str(path))


def generated_targets(G: Any, seeds: list[int]) -> np.ndarray:
    """uint8 images the network made from ``RandomState(seed).randn(z_dim)`` with random noise."""
    z = torch.from_numpy(np.stack([np.random.RandomState(s).randn(G.z_dim) for s in seeds])).float()
    torch.manual_seed(seeds[0])
    with torch.no_grad():
        return to_uint8(G(z, None, noise_mode="random")).numpy()


def noise_image(res: int, seed: int) -> np.ndarray:
    return np.random.RandomState(seed).randint(0, 256, (1, 3, res, res)).astype(np.uint8)


def block_image(res: int, seed: int) -> np.ndarray:
    """A 4x4 grid of random flat colours (sharp edges, no texture)."""
    blocks = np.random.RandomState(seed).randint(0, 256, (1, 3, 4, 4))
    return np.kron(blocks, np.ones((1, 1, res // 4, res // 4))).astype(np.uint8)


# ----------------------------------------------------------------------------------------------------------
# Schedules against the formulas.


def reference_lr(i: int, n: int) -> float:
    """Appendix D: linear ramp-up over the first 5% of steps, cosine ramp-down over the last 25%, max 0.1."""
    t = i / n
    down = 0.5 - 0.5 * np.cos(np.pi * min(1.0, (1 - t) / 0.25))
    return 0.1 * down * min(1.0, t / 0.05)


@pytest.mark.parametrize("n", [1000, 40])
def test_learning_rate_follows_the_ramps(n: int) -> None:
    config = ProjectorConfig(num_steps=n)
    lrs = np.array([learning_rate(i, config) for i in range(n)])
    np.testing.assert_allclose(lrs, [reference_lr(i, n) for i in range(n)], rtol=1e-12, atol=1e-15)
    if n == 1000:
        assert lrs[0] == 0 and lrs[25] == pytest.approx(0.05) and lrs[50] == pytest.approx(0.1)
        assert np.all(np.diff(lrs[:51]) > 0) and np.all(lrs[50:751] == pytest.approx(0.1))
        assert lrs[875] == pytest.approx(0.05) and np.all(np.diff(lrs[750:]) < 0) and lrs[999] < 1e-5


def test_w_noise_ramps_down_quadratically_to_zero_at_three_quarters() -> None:
    config = ProjectorConfig()
    scales = np.array([w_noise_scale(i, 2.0, config) for i in range(1000)])
    t = np.arange(1000) / 1000
    np.testing.assert_allclose(scales, 2.0 * 0.05 * np.maximum(0, 1 - t / 0.75) ** 2, rtol=1e-12)
    assert scales[0] == pytest.approx(0.1) and scales[375] == pytest.approx(0.1 * 0.25)
    assert np.all(scales[750:] == 0)


# ----------------------------------------------------------------------------------------------------------
# Noise regularization against a numpy transcription of Appendix D.


def appendix_d_regularization(n: np.ndarray, gain: float) -> float:
    """sum_j L_j for one map n [r, r]: L = (1/r^2 sum n(x,y) n(x-1,y))^2 + (1/r^2 sum n(x,y) n(x,y-1))^2 with
    wrap-around, over the map and its pyramid (2x2 means times ``gain``) down to 8x8."""
    total = 0.0
    while True:
        r = n.shape[0]
        horizontal = sum(n[y, x] * n[y, (x - 1) % r] for y in range(r) for x in range(r)) / r**2
        vertical = sum(n[y, x] * n[(y - 1) % r, x] for y in range(r) for x in range(r)) / r**2
        total += horizontal**2 + vertical**2
        if r <= 8:
            return total
        n = gain * n.reshape(r // 2, 2, r // 2, 2).mean(axis=(1, 3))


@pytest.mark.parametrize("gain", [2.0, 1.0])
def test_noise_regularization_matches_appendix_d(gain: float) -> None:
    rng = np.random.RandomState(0)
    # Correlated maps (cumulative sums) so every term is far from zero.
    maps = [np.cumsum(rng.randn(3, 1, r, r), axis=3) for r in (4, 8, 16, 32)]
    ours = noise_regularization([torch.from_numpy(m) for m in maps], gain).numpy()  # [3]
    expected = [sum(appendix_d_regularization(m[b, 0], gain) for m in maps) for b in range(3)]
    np.testing.assert_allclose(ours, expected, rtol=1e-10)
    # The pyramid matters: levels below 32x32 alone give a different total.
    assert not np.allclose(
        ours, [sum(appendix_d_regularization(m[b, 0], 0.0) for m in maps) for b in range(3)]
    )


def test_noise_renormalization_is_per_target() -> None:
    maps = [torch.randn(3, 1, 16, 16) * torch.tensor([1.0, 5.0, 0.1]).view(3, 1, 1, 1) + 7]
    normalize_noise_(maps)
    np.testing.assert_allclose(maps[0].mean(dim=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(maps[0].square().mean(dim=(1, 2, 3)), 1, rtol=1e-5)


def test_w_statistics_from_10000_mapped_latents_of_seed_123() -> None:
    G = tiny_generator()
    stats = compute_w_stats(G, ProjectorConfig())
    z = torch.from_numpy(np.random.RandomState(123).randn(10_000, 16)).float()
    with torch.no_grad():
        w = G.mapping(z, None)[:, 0].double().numpy()
    w_avg = w.mean(axis=0)
    np.testing.assert_allclose(stats.w_avg.numpy(), w_avg, rtol=1e-5)
    assert stats.w_std == pytest.approx(math.sqrt(((w - w_avg) ** 2).sum() / 10_000), rel=1e-6)


# ----------------------------------------------------------------------------------------------------------
# Optimizer behaviour.


def test_batched_projection_equals_one_at_a_time(fake_lpips) -> None:
    G = tiny_generator()
    projector = Projector(G, fake_lpips.distance, ProjectorConfig(num_steps=12))
    targets = np.concatenate([generated_targets(G, [1, 2]), noise_image(16, 3)])
    together = projector.project(targets, seeds=[10, 11, 12])
    alone = Projection.concat([projector.project(targets[i : i + 1], seeds=[10 + i]) for i in range(3)])
    np.testing.assert_allclose(together.w, alone.w, atol=1e-5)
    for name in together.noise:
        np.testing.assert_allclose(together.noise[name], alone.noise[name], atol=1e-4)
    np.testing.assert_allclose(together.distance, alone.distance, rtol=1e-4)
    np.testing.assert_allclose(together.loss_history, alone.loss_history, rtol=1e-4)
    # Chunked batches give the same again, and another seed gives another optimization path.
    chunked = projector.project_many(targets, [10, 11, 12], batch_size=2)
    np.testing.assert_allclose(chunked.w, together.w, atol=1e-5)
    other = projector.project(targets[:1], seeds=[99])
    assert np.abs(other.w - together.w[:1]).max() > 1e-3


def test_generated_images_project_much_closer_than_real_or_noise_images(fake_lpips) -> None:
    """Section 5.1 on a toy network: its own images re-synthesize far better than images it never made."""
    G = tiny_generator()
    projector = Projector(G, fake_lpips.distance, ProjectorConfig(num_steps=80))
    generated = generated_targets(G, [5, 6, 7])
    others = np.concatenate([noise_image(16, 1), block_image(16, 3)])
    result = projector.project(np.concatenate([generated, others]))
    gen_d, other_d = result.distance[:3], result.distance[3:]
    assert gen_d.max() < 0.35 * other_d.min(), (gen_d, other_d)
    # The optimization made progress on every target, and the outputs have the documented shapes.
    assert np.all(result.distance < result.distance_history[0])
    assert result.w.shape == (5, 16) and result.images.shape == (5, 3, 16, 16)
    assert result.noise["b16.conv1"].shape == (5, 1, 16, 16)


def test_noise_regularization_keeps_signal_out_of_the_noise_maps(fake_lpips) -> None:
    """Figure 18's ablation: without the regularization term the maps end up spatially correlated."""
    G = tiny_generator(noise_strength=0.5)
    target = block_image(16, 3)
    finals, distances = {}, {}
    for weight in (1e5, 0.0):
        projector = Projector(G, fake_lpips.distance, ProjectorConfig(num_steps=60, noise_reg_weight=weight))
        result = projector.project(target)
        maps = [torch.from_numpy(m) for m in result.noise.values()]
        finals[weight], distances[weight] = float(noise_regularization(maps)[0]), float(result.distance[0])
    assert finals[0.0] > 100 * finals[1e5], finals
    # The signal sneaked into the noise maps re-synthesizes an image the network could not otherwise make.
    assert distances[0.0] < 0.5 * distances[1e5], distances


def test_networks_without_noise_inputs_project_w_only(fake_lpips) -> None:
    from sg2model import Generator

    G = Generator(
        16, 0, 16, 16, 3, mapping_kwargs={"num_layers": 2}, channel_base=256, channel_max=32, use_noise=False
    )
    result = Projector(G.eval(), fake_lpips.distance, ProjectorConfig(num_steps=3)).project(
        noise_image(16, 0)
    )
    assert result.noise == {} and np.isfinite(result.distance).all() and result.w.shape == (1, 16)


def test_stylegan1_networks_project_too(fake_lpips) -> None:
    """Figure 10 compares StyleGAN (v1) with StyleGAN2: the projector takes both."""
    from sg2model.networks.stylegan1 import StyleGAN1Generator

    torch.manual_seed(0)
    G = StyleGAN1Generator.from_config("A", 16, z_dim=16, w_dim=16, mapping_features=16, channel_base=128)
    result = Projector(G.eval(), fake_lpips.distance, ProjectorConfig(num_steps=4)).project(
        noise_image(16, 0)
    )
    assert set(result.noise) == set(G.synthesis.noise_shapes()) and np.isfinite(result.distance).all()
    assert result.distance[0] < result.distance_history[0, 0]


def test_wrong_target_shape_and_conditional_networks_are_refused(fake_lpips) -> None:
    projector = Projector(
        tiny_generator(), fake_lpips.distance, ProjectorConfig(num_steps=2, w_avg_samples=10)
    )
    with pytest.raises(Sg2evalError, match=r"\[B, 3, 16, 16\]"):
        projector.project(np.zeros((1, 3, 32, 32), np.uint8))
    with pytest.raises(Sg2evalError, match="one seed per target"):
        projector.project(np.zeros((2, 3, 16, 16), np.uint8), seeds=[1])
    with pytest.raises(Sg2evalError, match="unconditional"):
        compute_w_stats(tiny_generator(c_dim=3), ProjectorConfig(w_avg_samples=10))


# ----------------------------------------------------------------------------------------------------------
# Target files.


def write_png(path: Path, pixels: np.ndarray) -> Path:
    """Save uint8 [C, H, W] (C = 1 or 3) as PNG."""
    PIL.Image.fromarray(pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0)).save(path)
    return path


def test_targets_are_read_resized_with_a_warning_or_refused(tmp_path: Path) -> None:
    exact = write_png(tmp_path / "a.png", noise_image(16, 0)[0])
    gray = write_png(tmp_path / "b.png", noise_image(16, 1)[0, :1])
    big = write_png(tmp_path / "c.png", np.zeros((3, 40, 24), np.uint8) + 77)
    files, pixels = load_targets([exact, gray], (3, 16, 16))
    assert files == [exact, gray] and pixels.shape == (2, 3, 16, 16)
    np.testing.assert_array_equal(pixels[0], noise_image(16, 0)[0])
    assert np.array_equal(pixels[1, 0], pixels[1, 2])  # grayscale repeated to RGB
    with pytest.warns(UserWarning, match="resized to 16x16"):
        _, resized = load_targets([big], (3, 16, 16))
    assert resized.shape == (1, 3, 16, 16) and np.all(resized == 77)
    with pytest.raises(Sg2evalError, match="24x40 but the network makes 16x16"):
        load_targets([big], (3, 16, 16), resize=False)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(Sg2evalError, match="broken.png is not a readable image"):
        load_targets([tmp_path / "broken.png"], (3, 16, 16))
    with pytest.raises(Sg2evalError, match="missing.png does not exist"):
        load_targets([tmp_path / "missing.png"], (3, 16, 16))


# ----------------------------------------------------------------------------------------------------------
# The command.


@pytest.fixture()
def tiny_network(tmp_path: Path) -> Path:
    from sg2model import save_network

    path = tmp_path / "tiny.sg2"
    save_network(path, G_ema=tiny_generator())
    return path


def test_project_command_writes_w_noise_images_and_video(
    tmp_path: Path, tiny_network: Path, fake_lpips
) -> None:
    from sg2eval.cli.main import cli

    folder = tmp_path / "targets"
    folder.mkdir()
    write_png(folder / "x.png", generated_targets(tiny_generator(), [1])[0])
    write_png(folder / "y.png", noise_image(16, 2)[0])
    out = tmp_path / "out"
    weights = str(fake_lpips.weights[0].path)
    args = ["project", str(folder), "--network", str(tiny_network), "--steps", "6", "--out", str(out)]
    run = CliRunner().invoke(cli, [*args, "--save-video", "--lpips", "vgg16-nv", "--weights", weights])
    assert run.exit_code == 0, run.output
    for name in ("x", "y"):
        files = {p.name for p in (out / name).iterdir()}
        assert {"projected_w.npz", "noise.npz", "target.png", "proj.png", "compare.png", "proj.gif"} <= files
        with np.load(out / name / "projected_w.npz") as npz:
            ws = npz["w"]
        assert ws.shape == (1, tiny_generator().num_ws, 16) and np.all(ws == ws[:, :1])  # one w: W, not W+
        assert getattr(PIL.Image.open(out / name / "proj.gif"), "n_frames", 1) == 6
        compare = PIL.Image.open(out / name / "compare.png")  # was 38 x 20: now 128 px per image, captioned
        assert compare.width >= 2 * 128 and compare.height >= 128
        captions = json.loads(compare.text["sg2:captions"])
        assert captions[0] == "target" and "LPIPS (vgg16-nv)" in captions[1] and "seed" in captions[1]
        assert PIL.Image.open(out / name / "target.png").size == (16, 16)  # exact pixels, for reuse
    summary = json.loads((out / "projection.json").read_text())
    assert summary["lpips"]["lpips"] == "vgg16-nv" and summary["projector"]["num_steps"] == 6
    assert [t["target"] for t in summary["targets"]] == [str(folder / "x.png"), str(folder / "y.png")]
    # Missing network: one clear line.
    with warnings.catch_warnings():
        missing = CliRunner().invoke(cli, ["project", str(folder), "--network", str(tmp_path / "no.sg2")])
    assert missing.exit_code != 0 and "no.sg2 does not exist" in missing.output
