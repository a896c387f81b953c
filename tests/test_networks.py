"""StyleGAN2 networks: presets and parameter counts, truncation, mixing, noise, architectures, gradients."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from sg2model import Discriminator, Generator, configs, mix_styles
from sg2model.core.errors import Sg2Error
from sg2model.networks.discriminator import MinibatchStdLayer

TINY = {"channel_base": 256, "channel_max": 32}
TINY_MAPPING = {"num_layers": 2}


def tiny_generator(**options: object) -> Generator:
    torch.manual_seed(0)
    kwargs = {
        "z_dim": 16,
        "c_dim": 0,
        "w_dim": 16,
        "img_resolution": 16,
        "img_channels": 3,
        **TINY,
        **options,
    }
    return Generator(mapping_kwargs=TINY_MAPPING, **kwargs).eval()  # type: ignore[arg-type]


def tiny_discriminator(**options: object) -> Discriminator:
    torch.manual_seed(1)
    kwargs = {"c_dim": 0, "img_resolution": 16, "img_channels": 3, **TINY, **options}
    return Discriminator(mapping_kwargs=TINY_MAPPING, **kwargs)  # type: ignore[arg-type]


def set_noise_strength(G: Generator, value: float) -> None:
    with torch.no_grad():
        for name, param in G.named_parameters():
            if name.endswith("noise_strength"):
                param.fill_(value)


def sub(net: torch.nn.Module, path: str) -> Any:
    """A submodule by dotted name (blocks are named by resolution, e.g. 'synthesis.b8')."""
    return net.get_submodule(path)


def count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


# ---------------------------------------------------------------------------------------------- presets


def test_config_e_f_parameter_counts_match_paper_footnote() -> None:
    """Paper footnote 4: E -> F takes G from 25M to 30M (+22%) and D from 24M to 29M (+21%) at 1024²."""
    g_e, d_e = count(Generator.from_config("E", 1024)), count(Discriminator.from_config("E", 1024))
    g_f, d_f = count(Generator.from_config("F", 1024)), count(Discriminator.from_config("F", 1024))
    assert (round(g_e / 1e6), round(g_f / 1e6)) == (25, 30)
    assert (round(d_e / 1e6), round(d_f / 1e6)) == (24, 29)
    assert round(100 * (g_f / g_e - 1)) == 22
    assert round(100 * (d_f / d_e - 1)) == 21


def test_presets_record_paper_rows_and_channels() -> None:
    G = Generator.from_config("F", 64, z_dim=8, w_dim=8, mapping_kwargs=TINY_MAPPING)
    assert G.config.preset == "F" and "config F" in configs.get_preset("F").paper_row
    assert G.num_ws == 2 * 6 - 2 == G.config.num_ws
    # min(channel_base // r, 512): F at 64² has 512 channels, E (16384) has 256.
    assert sub(G, "synthesis.b64.conv1").weight.shape[0] == 512
    assert (
        sub(Generator.from_config("E", 64, mapping_kwargs=TINY_MAPPING), "synthesis.b64.conv1").weight.shape[
            0
        ]
        == 256
    )
    D = Discriminator.from_config("E", 32)
    assert D.config.architecture == "resnet" and sub(D, "b32.fromrgb").weight.shape[0] == 512
    assert configs.get_preset("E-orig-skip").paper_row.startswith("Table 2")
    assert Generator.from_config(
        "E-resnet-orig", 8, mapping_kwargs=TINY_MAPPING
    ).config.synthesis.architecture == ("resnet")
    with pytest.raises(Sg2Error, match="unknown network config"):
        Generator.from_config("Z", 64)
    with pytest.raises(Sg2Error, match="unknown option"):
        Generator.from_config("F", 64, no_such_option=1)
    with pytest.raises(Sg2Error, match="power of two"):
        Generator.from_config("F", 48)


@pytest.mark.parametrize("resolution", [4, 8, 32])
def test_num_ws_and_output_shape_at_any_resolution(resolution: int) -> None:
    G = tiny_generator(img_resolution=resolution)
    assert G.num_ws == 2 * int(math.log2(resolution)) - 2
    assert G(torch.randn(2, 16)).shape == (2, 3, resolution, resolution)


# ------------------------------------------------------------------------------------ truncation, mixing


def test_truncation_psi_cutoff_and_w_avg_ema() -> None:
    G = tiny_generator()
    with torch.no_grad():
        G.mapping.w_avg.copy_(torch.randn(16))
    z = torch.randn(3, 16)
    ws = G.mapping(z, None)
    assert ws.shape == (3, G.num_ws, 16)
    assert torch.equal(G.mapping(z, None, truncation_psi=1), ws)
    psi0 = G.mapping(z, None, truncation_psi=0)
    torch.testing.assert_close(psi0, G.mapping.w_avg.expand_as(ws))
    half = G.mapping(z, None, truncation_psi=0.5, truncation_cutoff=2)
    torch.testing.assert_close(half[:, :2], 0.5 * (ws[:, :2] + G.mapping.w_avg))
    assert torch.equal(half[:, 2:], ws[:, 2:])
    # w_avg <- lerp(mean(w), w_avg, 0.995) only when update_emas=True.
    before = G.mapping.w_avg.clone()
    G.mapping(z, None)
    assert torch.equal(G.mapping.w_avg, before)
    G.mapping(z, None, update_emas=True)
    torch.testing.assert_close(G.mapping.w_avg, ws[:, 0].mean(0).lerp(before, 0.995))


def test_mix_styles_switches_at_cutoff() -> None:
    G = tiny_generator()
    ws_a, ws_b = G.mapping(torch.randn(2, 16), None), G.mapping(torch.randn(2, 16), None)
    mixed = mix_styles(ws_a, ws_b, 3)
    assert torch.equal(mixed[:, :3], ws_a[:, :3]) and torch.equal(mixed[:, 3:], ws_b[:, 3:])
    assert torch.equal(mix_styles(ws_a, ws_b, 0), ws_b) and torch.equal(
        mix_styles(ws_a, ws_b, G.num_ws), ws_a
    )
    with pytest.raises(Sg2Error):
        mix_styles(ws_a, ws_b, G.num_ws + 1)


# ------------------------------------------------------------------------------------------------- noise


def test_noise_modes_and_overrides() -> None:
    G = tiny_generator()
    set_noise_strength(G, 0.5)
    ws = G.mapping(torch.randn(2, 16), None)
    const_a, const_b = G.synthesis(ws, noise_mode="const"), G.synthesis(ws, noise_mode="const")
    assert torch.equal(const_a, const_b)
    rand_a, rand_b = G.synthesis(ws, noise_mode="random"), G.synthesis(ws, noise_mode="random")
    assert not torch.allclose(rand_a, rand_b)
    none = G.synthesis(ws, noise_mode="none")
    assert not torch.allclose(none, const_a)
    set_noise_strength(G, 0.0)
    torch.testing.assert_close(G.synthesis(ws, noise_mode="random"), none)  # 'none' = no noise at all
    set_noise_strength(G, 0.5)

    shapes = G.synthesis.noise_shapes()
    assert shapes == {"b4.conv1": (4, 4), "b8.conv0": (8, 8), "b8.conv1": (8, 8),
                      "b16.conv0": (16, 16), "b16.conv1": (16, 16)}  # fmt: skip
    layers = {name: sub(G.synthesis, name) for name in shapes}
    as_const = {name: layer.noise_const.expand(2, 1, *shapes[name]) for name, layer in layers.items()}
    torch.testing.assert_close(G.synthesis(ws, noise_mode="none", noise_inputs=as_const), const_a)
    zeros = {name: torch.zeros(2, 1, *shape) for name, shape in shapes.items()}
    torch.testing.assert_close(G.synthesis(ws, noise_mode="random", noise_inputs=zeros), none)
    # Per-sample overrides: sample 1 gets other noise in one layer, sample 0 is unchanged.
    partial = {"b16.conv1": torch.stack([layers["b16.conv1"].noise_const[None], torch.randn(1, 16, 16)])}
    out = G.synthesis(ws, noise_mode="const", noise_inputs=partial)
    torch.testing.assert_close(out[0], const_a[0])
    assert not torch.allclose(out[1], const_a[1])
    with pytest.raises(Sg2Error, match="names no noise layer"):
        G.synthesis(ws, noise_inputs={"b16.torgb": torch.zeros(2, 1, 16, 16)})
    with pytest.raises(Sg2Error, match="expected"):
        G.synthesis(ws, noise_inputs={"b16.conv1": torch.zeros(1, 1, 16, 16)})
    with pytest.raises(Sg2Error, match="noise_mode"):
        G.synthesis(ws, noise_mode="fixed")


def test_use_noise_false_has_no_noise_layers() -> None:
    G = tiny_generator(use_noise=False)
    assert G.synthesis.noise_shapes() == {}
    assert not any("noise" in name for name in G.state_dict())


# ----------------------------------------------------------------------------------------- architectures


def _r1_and_step(D: Discriminator, img: torch.Tensor, c: torch.Tensor | None = None) -> None:
    """R1: gradient of the gradient of D w.r.t. its input reaches every parameter."""
    img = img.detach().requires_grad_(True)
    logits = D(img, c)
    (grad,) = torch.autograd.grad(logits.sum(), img, create_graph=True)
    penalty = grad.square().sum() + torch.nn.functional.softplus(logits).mean()
    penalty.backward()
    missing = [n for n, p in D.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, missing


def _path_length_step(G: Generator, c: torch.Tensor | None = None) -> None:
    """Path length regularizer: grad of <img, y> w.r.t. ws with create_graph, then backward to G."""
    ws = G.mapping(torch.randn(2, 16), c)
    img = G.synthesis(ws, noise_mode="random")
    y = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
    (grad,) = torch.autograd.grad((img * y).sum(), ws, create_graph=True)
    lengths = grad.square().sum(2).mean(1).sqrt()
    (lengths.mean() + img.square().mean()).backward()
    missing = [n for n, p in G.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, missing


@pytest.mark.parametrize("architecture", ["orig", "skip", "resnet"])
def test_generator_architectures_forward_and_double_backward(architecture: str) -> None:
    G = tiny_generator(architecture=architecture).train()
    set_noise_strength(G, 0.1)
    assert hasattr(sub(G, "synthesis.b8"), "torgb") == (architecture == "skip")
    assert hasattr(sub(G, "synthesis.b8"), "skip") == (architecture == "resnet")
    _path_length_step(G)
    # Fused (grouped conv, eval default) and non-fused (training default) modulated convs agree.
    G.eval()
    ws = G.mapping(torch.randn(3, 16), None)
    fused = G.synthesis(ws, noise_mode="const", fused_modconv=True)
    torch.testing.assert_close(G.synthesis(ws, noise_mode="const", fused_modconv=False), fused,
                               atol=1e-5, rtol=1e-4)  # fmt: skip


@pytest.mark.parametrize("architecture", ["orig", "skip", "resnet"])
def test_discriminator_architectures_forward_and_r1(architecture: str) -> None:
    D = tiny_discriminator(architecture=architecture)
    assert hasattr(sub(D, "b8"), "fromrgb") == (architecture == "skip")
    assert hasattr(sub(D, "b16"), "skip") == (architecture == "resnet")
    img = torch.randn(4, 3, 16, 16)
    assert D(img).shape == (4, 1)
    _r1_and_step(D, img)


def test_without_demodulation_runs_and_differs() -> None:
    G_demod, G_plain = tiny_generator(), tiny_generator(demodulate=False)
    G_plain.load_state_dict(G_demod.state_dict())  # same names, same weights
    ws = G_demod.mapping(torch.randn(2, 16), None)
    out_plain = G_plain.synthesis(ws, noise_mode="const")
    assert torch.isfinite(out_plain).all()
    assert not torch.allclose(out_plain, G_demod.synthesis(ws, noise_mode="const"))
    _path_length_step(G_plain.train())


def test_conditional_generator_and_discriminator() -> None:
    G = tiny_generator(c_dim=3).train()
    D = tiny_discriminator(c_dim=3)
    assert "mapping.embed.weight" in G.state_dict() and "mapping.embed.weight" in D.state_dict()
    z = torch.randn(4, 16).repeat(2, 1)
    c = torch.eye(3)[[0, 1, 2, 0, 1, 1, 2, 0]]
    img = G(z, c, noise_mode="const")
    assert not torch.allclose(img[:4], img[4:])  # same z, other labels
    logits = D(img, c)
    assert logits.shape == (8, 1)
    assert not torch.allclose(D(img, torch.eye(3)[[1] * 8]), logits)
    _r1_and_step(D, img, c)
    _path_length_step(G, torch.eye(3)[[0, 2]])
    with pytest.raises(Sg2Error, match="labels c"):
        G(z, None)


def test_non_square_output_crops_centred_rows() -> None:
    """LSUN Car: the official networks draw 512x512 and the 512x384 picture sits in rows 64..447."""
    G_square, G_wide = tiny_generator(), tiny_generator(img_height=12)
    G_wide.load_state_dict(G_square.state_dict())
    ws = G_square.mapping(torch.randn(2, 16), None)
    wide = G_wide.synthesis(ws, noise_mode="const")
    assert wide.shape == (2, 3, 12, 16)
    torch.testing.assert_close(wide, G_square.synthesis(ws, noise_mode="const")[:, :, 2:14])
    with pytest.raises(Sg2Error, match="img_height"):
        tiny_generator(img_height=32)


def test_fp16_options_and_clamp_build_and_run_on_cpu() -> None:
    G = tiny_generator(num_fp16_res=2, conv_clamp=256)
    assert (
        sub(G, "synthesis.b16").use_fp16
        and sub(G, "synthesis.b8").use_fp16
        and not sub(G, "synthesis.b4").use_fp16
    )
    out = G(torch.randn(2, 16))
    assert out.dtype == torch.float32 and torch.isfinite(out).all()  # CPU runs float16 blocks in float32
    D = tiny_discriminator(num_fp16_res=1, conv_clamp=256)
    assert sub(D, "b16").use_fp16 and not sub(D, "b8").use_fp16
    assert D(out).shape == (2, 1)


# ---------------------------------------------------------------------------------- discriminator options


def test_minibatch_std_matches_direct_group_statistics() -> None:
    x = torch.randn(8, 6, 4, 4)
    y = MinibatchStdLayer(group_size=4, num_channels=1)(x)
    assert y.shape == (8, 7, 4, 4) and torch.equal(y[:, :6], x)
    for n in range(8):
        group = x[n % 2 :: 2]  # official reshape(G, -1, ...): sample n is in group n % (N / G)
        expected = (group.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
        torch.testing.assert_close(y[n, 6], expected.expand(4, 4))
    small = MinibatchStdLayer(group_size=4)(x[:2])  # group size min(4, N)
    torch.testing.assert_close(small[0, 6, 0, 0], (x[:2].var(dim=0, unbiased=False) + 1e-8).sqrt().mean())
    with pytest.raises(Sg2Error, match="divisible"):
        MinibatchStdLayer(group_size=4)(x[:6])


def test_discriminator_without_mbstd_and_several_outputs() -> None:
    D = tiny_discriminator(mbstd_group_size=0)
    assert D.b4.mbstd is None and D.b4.conv.weight.shape[1] == 32
    single = D(torch.randn(3, 3, 16, 16)[:1])  # batch of one: no group statistics needed
    assert single.shape == (1, 1)
    assert tiny_discriminator().b4.conv.weight.shape[1] == 33
    multi = tiny_discriminator(mbstd_num_channels=0, out_features=3)
    assert multi(torch.randn(5, 3, 16, 16)).shape == (5, 3)
    with pytest.raises(Sg2Error, match="conditional"):
        tiny_discriminator(c_dim=2, out_features=3)
    with pytest.raises(Sg2Error, match="expects images"):
        D(torch.randn(2, 3, 8, 8))


# ------------------------------------------------------------------------------------ state-dict names


def _expected_generator_keys(resolutions: list[int], architecture: str, c_dim: int) -> set[str]:
    """stylegan2-ada-pytorch names (docs/facts.md, "Parameter and buffer names"), written out by hand."""
    keys = {"mapping.w_avg"} | {f"mapping.fc{i}.{p}" for i in range(2) for p in ("weight", "bias")}
    if c_dim:
        keys |= {"mapping.embed.weight", "mapping.embed.bias"}
    layer = (
        "weight",
        "bias",
        "noise_strength",
        "noise_const",
        "resample_filter",
        "affine.weight",
        "affine.bias",
    )
    torgb = ("weight", "bias", "affine.weight", "affine.bias")
    for r in resolutions:
        block = f"synthesis.b{r}"
        keys |= {f"{block}.resample_filter"} | {f"{block}.conv1.{p}" for p in layer}
        keys |= {f"{block}.const"} if r == 4 else {f"{block}.conv0.{p}" for p in layer}
        if architecture == "skip" or r == resolutions[-1]:
            keys |= {f"{block}.torgb.{p}" for p in torgb}
        if architecture == "resnet" and r > 4:
            keys |= {f"{block}.skip.weight", f"{block}.skip.resample_filter"}
    return keys


def _expected_discriminator_keys(resolutions: list[int], architecture: str, c_dim: int) -> set[str]:
    conv = ("weight", "bias", "resample_filter")
    keys = {f"b4.{name}.{p}" for name in ("fc", "out") for p in ("weight", "bias")} | {
        f"b4.conv.{p}" for p in conv
    }
    if architecture == "skip":
        keys |= {f"b4.fromrgb.{p}" for p in conv}
    if c_dim:
        keys |= {f"mapping.{name}.{p}" for name in ("embed", "fc0", "fc1") for p in ("weight", "bias")}
    for r in resolutions:
        keys |= {f"b{r}.resample_filter"} | {f"b{r}.{name}.{p}" for name in ("conv0", "conv1") for p in conv}
        if architecture == "skip" or r == resolutions[0]:
            keys |= {f"b{r}.fromrgb.{p}" for p in conv}
        if architecture == "resnet":
            keys |= {f"b{r}.skip.weight", f"b{r}.skip.resample_filter"}
    return keys


@pytest.mark.parametrize("architecture", ["orig", "skip", "resnet"])
@pytest.mark.parametrize("c_dim", [0, 2])
def test_state_dict_names_follow_stylegan2_ada(architecture: str, c_dim: int) -> None:
    G = tiny_generator(architecture=architecture, c_dim=c_dim)
    assert set(G.state_dict()) == _expected_generator_keys([4, 8, 16], architecture, c_dim)
    D = tiny_discriminator(architecture=architecture, c_dim=c_dim)
    assert set(D.state_dict()) == _expected_discriminator_keys([16, 8], architecture, c_dim)
    assert {n for n, _ in G.named_buffers()} == {
        n for n in G.state_dict() if n.endswith(("_filter", "_const", "w_avg"))
    }
