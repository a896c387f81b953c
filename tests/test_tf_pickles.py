"""Loading NVIDIA's TensorFlow network pickles without TensorFlow (issue 9).

The official files cannot be downloaded here, so the tests build pickles with the official structure: the
class ``dnnlib.tflib.network.Network`` pickled with the state dict of NVlabs' ``Network.__getstate__``
(version, name, static_kwargs, components, build_module_src, build_func_name, variables), the TF variable
names and shapes of each build function (read from NVlabs/stylegan ``networks_stylegan.py`` and
NVlabs/stylegan2 ``networks_stylegan2.py``) at 8x8/16x16 with small feature maps and seeded values.

Rendered images are compared with independent NumPy forward passes written from the TF graphs (TF layouts
``[k, k, I, O]``, TF's fused up-sampling conv, TF 'SAME' padding) on the unconverted variables.
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sg2eval.cli.main import cli
from sg2model.configs import get_preset
from sg2model.core.errors import Sg2Error
from sg2model.io import load_network, save_network
from sg2model.io.tf_convert import (
    convert_discriminator,
    convert_generator,
    discriminator_rules,
    generator_rules,
    guess_preset,
)
from sg2model.io.tf_pickle import TFNetworkRecord, read_tf_pickle
from sg2model.networks import Discriminator, Generator
from sg2model.networks.stylegan1 import StyleGAN1Discriminator, StyleGAN1Generator
from tests.helpers.cli_checks import check_info_convert_fid
from tests.helpers.fake_weights import isolate_weight_search
from tests.helpers.nvidia_pickles import TF_FAMILIES, EasyDict, tf_network_state, write_tf_pickle

SQRT2 = math.sqrt(2.0)
W_DIM = 16
Z_DIM = 16

# ----------------------------------------------------------------------------------------------------------
# Building pickles with the official structure.


def tf_net(
    name: str,
    func: str,
    kwargs: dict[str, Any],
    variables: dict[str, np.ndarray],
    components: dict[str, Any] | None = None,
    family: str = "stylegan2",
) -> dict[str, Any]:
    """A Network state as ``family``'s ``Network.__getstate__`` writes it (helpers/nvidia_pickles)."""
    return tf_network_state(family, name, func, kwargs, variables, components)


_FAMILY_OF_VERSION = {spec.version: name for name, spec in TF_FAMILIES.items()}


def write_pickle(
    path: Path,
    *states: dict[str, Any],
    protocol: int | None = None,
    easydict: bool = False,
    family: str | None = None,
    numpy_spelling: str = "numpy1",
) -> Path:
    """Pickle ``(G, D, Gs)`` (three states) or a single network as the TF code base of the states' version
    does; ``easydict`` stores the static kwargs as ``dnnlib.util.EasyDict`` (not seen in real files)."""
    if easydict:
        states = tuple({**state, "static_kwargs": EasyDict(state["static_kwargs"])} for state in states)
    return write_tf_pickle(
        path,
        *states,
        family=family or _FAMILY_OF_VERSION[states[0]["version"]],
        numpy_spelling=numpy_spelling,
        protocol=protocol,
    )


class Vars:
    """Seeded TF variables; ``scale`` mimics trained magnitudes (TF stores weights as randn / lrmul)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.RandomState(seed)
        self.values: dict[str, np.ndarray] = {}

    def add(
        self, name: str, shape: list[int] | tuple[int, ...], scale: float = 1.0, offset: float = 0.0
    ) -> None:
        self.values[name] = (self.rng.randn(*shape) * scale + offset).astype(np.float32)


def nf(fmap_base: int, stage: int, fmap_max: int = 512) -> int:
    return int(np.clip(int(fmap_base / 2.0**stage), 1, fmap_max))


def sg2_mapping_vars(seed: int, layers: int = 3, lrmul: float = 0.01) -> dict[str, np.ndarray]:
    v = Vars(seed)
    for i in range(layers):
        v.add(f"Dense{i}/weight", [Z_DIM if i == 0 else W_DIM, W_DIM], scale=1 / lrmul)
        v.add(f"Dense{i}/bias", [W_DIM], scale=10.0)
    return v.values


def sg2_synthesis_vars(
    seed: int, resolution: int, fmap_base: int, architecture: str, revised: bool = False
) -> dict[str, np.ndarray]:
    """``G_synthesis_stylegan2`` (or, with ``revised``, ``G_synthesis_stylegan_revised``) variables."""
    v = Vars(seed)
    log2 = int(np.log2(resolution))
    num_layers = 2 * log2 - 2
    if revised:
        v.values["lod"] = np.zeros((), np.float32)
    for idx in range(num_layers - 1):
        res = 2 ** ((idx + 5) // 2)
        v.add(f"noise{idx}", [1, 1, res, res])

    def modconv(scope: str, cin: int, cout: int, k: int, noise: bool) -> None:
        v.add(f"{scope}/weight", [k, k, cin, cout])
        v.add(f"{scope}/mod_weight", [W_DIM, cin])
        v.add(f"{scope}/mod_bias", [cin], scale=0.2)
        if noise:
            v.values[f"{scope}/noise_strength"] = np.full((), v.rng.randn() * 0.3, np.float32)
        v.add(f"{scope}/bias", [cout], scale=0.2)

    v.add("4x4/Const/const", [1, nf(fmap_base, 1), 4, 4])
    modconv("4x4/Conv", nf(fmap_base, 1), nf(fmap_base, 1), 3, True)
    torgb = (lambda res: f"ToRGB_lod{log2 - res}") if revised else (lambda res: f"{2**res}x{2**res}/ToRGB")
    if architecture == "skip" or revised:
        modconv(torgb(2) if revised else "4x4/ToRGB", nf(fmap_base, 1), 3, 1, False)
    for res in range(3, log2 + 1):
        scope = f"{2**res}x{2**res}"
        cin, cout = nf(fmap_base, res - 2), nf(fmap_base, res - 1)
        modconv(f"{scope}/Conv0_up", cin, cout, 3, True)
        modconv(f"{scope}/Conv1", cout, cout, 3, True)
        if architecture == "resnet":
            v.add(f"{scope}/Skip/weight", [1, 1, cin, cout])
        if architecture == "skip" or revised or res == log2:
            modconv(torgb(res), cout, 3, 1, False)
    return v.values


def tf_generator_kwargs(resolution: int, fmap_base: int, **extra: Any) -> dict[str, Any]:
    """Keyword arguments the TF generators (G_main, G_style) share with their mapping and synthesis nets."""
    return {
        "num_channels": 3,
        "resolution": resolution,
        "label_size": 0,
        "fmap_base": fmap_base,
        "latent_size": Z_DIM,
        "dlatent_size": W_DIM,
        "mapping_layers": 3,
        "mapping_fmaps": W_DIM,
        **extra,
    }


def sg2_generator_state(
    resolution: int = 8,
    fmap_base: int = 64,
    architecture: str = "skip",
    seed: int = 0,
    synthesis_func: str = "G_synthesis_stylegan2",
    name: str = "Gs",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``G_main`` of NVlabs/stylegan2 (or stylegan2-ada for ``synthesis_func='G_synthesis'``, whose
    ``mapping_fmaps`` default is dlatent_size and not in its kwargs); ``extra`` kwargs go to G and both
    components, as G_main passes its kwargs on."""
    kwargs = {**tf_generator_kwargs(resolution, fmap_base), **(extra or {})}
    revised = synthesis_func == "G_synthesis_stylegan_revised"
    family = "stylegan2-ada" if synthesis_func == "G_synthesis" else "stylegan2"
    if family == "stylegan2-ada":
        kwargs.pop("mapping_fmaps")
    if not revised:
        kwargs["architecture"] = architecture
    syn_vars = sg2_synthesis_vars(seed + 1, resolution, fmap_base, architecture, revised=revised)
    num_layers = 2 * int(np.log2(resolution)) - 2
    synthesis = tf_net("G_synthesis", synthesis_func, dict(kwargs), syn_vars, family=family)
    mapping = tf_net(
        "G_mapping",
        "G_mapping",
        {**kwargs, "dlatent_broadcast": num_layers},
        sg2_mapping_vars(seed + 2),
        family=family,
    )
    own = Vars(seed + 3)
    own.values["lod"] = np.zeros((), np.float32)
    own.add("dlatent_avg", [W_DIM], scale=0.5)
    # G_main records synthesis_func only where the config overrides its default (configs B-D).
    g_kwargs = {**kwargs, "synthesis_func": synthesis_func} if revised else kwargs
    comps = {"synthesis": synthesis, "mapping": mapping}
    return tf_net(name, "G_main", g_kwargs, own.values, comps, family=family)


def v1_generator_state(
    resolution: int = 8, fmap_base: int = 32, seed: int = 10, **extra: Any
) -> dict[str, Any]:
    """StyleGAN v1 ``G_style`` with ``G_mapping`` and ``G_synthesis`` (networks_stylegan.py)."""
    kwargs = tf_generator_kwargs(resolution, fmap_base, **extra)
    log2 = int(np.log2(resolution))
    v = Vars(seed)
    v.values["lod"] = np.zeros((), np.float32)
    for idx in range(2 * log2 - 2):
        res = 2 ** (idx // 2 + 2)
        v.add(f"noise{idx}", [1, 1, res, res])

    def epilogue(scope: str, c: int) -> None:
        v.add(f"{scope}/Noise/weight", [c], scale=0.3)
        v.add(f"{scope}/bias", [c], scale=0.2)
        v.add(f"{scope}/StyleMod/weight", [W_DIM, 2 * c])
        v.add(f"{scope}/StyleMod/bias", [2 * c], scale=0.2)

    c4 = nf(fmap_base, 1)
    v.add("4x4/Const/const", [1, c4, 4, 4], offset=1.0)
    epilogue("4x4/Const", c4)
    v.add("4x4/Conv/weight", [3, 3, c4, c4])
    epilogue("4x4/Conv", c4)
    for res in range(3, log2 + 1):
        scope = f"{2**res}x{2**res}"
        cin, cout = nf(fmap_base, res - 2), nf(fmap_base, res - 1)
        v.add(f"{scope}/Conv0_up/weight", [3, 3, cin, cout])
        epilogue(f"{scope}/Conv0_up", cout)
        v.add(f"{scope}/Conv1/weight", [3, 3, cout, cout])
        epilogue(f"{scope}/Conv1", cout)
    for res in range(2, log2 + 1):
        v.add(f"ToRGB_lod{log2 - res}/weight", [1, 1, nf(fmap_base, res - 1), 3])
        v.add(f"ToRGB_lod{log2 - res}/bias", [3], scale=0.2)
    synthesis = tf_net("G_synthesis", "G_synthesis", dict(kwargs), v.values, family="stylegan")
    mapping = tf_net(
        "G_mapping",
        "G_mapping",
        {**kwargs, "dlatent_broadcast": 2 * log2 - 2},
        sg2_mapping_vars(seed + 1),
        family="stylegan",
    )
    own = Vars(seed + 2)
    own.values["lod"] = np.zeros((), np.float32)
    own.add("dlatent_avg", [W_DIM], scale=0.5)
    return tf_net(
        "Gs", "G_style", kwargs, own.values, {"synthesis": synthesis, "mapping": mapping}, family="stylegan"
    )


def v1_discriminator_state(
    resolution: int = 16, fmap_base: int = 32, seed: int = 20, **extra: Any
) -> dict[str, Any]:
    """StyleGAN v1 ``D_basic`` (progressive growing: FromRGB_lod{k} for every level)."""
    kwargs = {"num_channels": 3, "resolution": resolution, "label_size": 0, "fmap_base": fmap_base, **extra}
    log2 = int(np.log2(resolution))
    v = Vars(seed)
    v.values["lod"] = np.zeros((), np.float32)
    for res in range(log2, 1, -1):
        v.add(f"FromRGB_lod{log2 - res}/weight", [1, 1, 3, nf(fmap_base, res - 1)])
        v.add(f"FromRGB_lod{log2 - res}/bias", [nf(fmap_base, res - 1)], scale=0.2)
    for res in range(log2, 2, -1):
        scope = f"{2**res}x{2**res}"
        c0, c1 = nf(fmap_base, res - 1), nf(fmap_base, res - 2)
        v.add(f"{scope}/Conv0/weight", [3, 3, c0, c0])
        v.add(f"{scope}/Conv0/bias", [c0], scale=0.2)
        v.add(f"{scope}/Conv1_down/weight", [3, 3, c0, c1])
        v.add(f"{scope}/Conv1_down/bias", [c1], scale=0.2)
    c = nf(fmap_base, 1)
    v.add("4x4/Conv/weight", [3, 3, c + 1, c])
    v.add("4x4/Conv/bias", [c], scale=0.2)
    v.add("4x4/Dense0/weight", [c * 16, nf(fmap_base, 0)])
    v.add("4x4/Dense0/bias", [nf(fmap_base, 0)], scale=0.2)
    v.add("4x4/Dense1/weight", [nf(fmap_base, 0), 1])
    v.add("4x4/Dense1/bias", [1], scale=0.2)
    return tf_net("D", "D_basic", kwargs, v.values, family="stylegan")


def sg2_discriminator_state(
    resolution: int = 16,
    fmap_base: int = 128,
    architecture: str = "resnet",
    func: str = "D_stylegan2",
    seed: int = 30,
    fmap_max: int = 32,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``D_stylegan2`` (architecture orig/skip/resnet) or, with ``func='D_stylegan'``, the configs B-D D
    (``'D_main'``: StyleGAN2-ADA's). ``fmap_max`` caps 4x4 and Dense0 alike (nf(0) == nf(1)), as at every
    official size."""
    kwargs: dict[str, Any] = {
        "num_channels": 3,
        "resolution": resolution,
        "label_size": 0,
        "fmap_base": fmap_base,
        "fmap_max": fmap_max,
        **(extra or {}),
    }
    revised = func == "D_stylegan"
    if not revised:
        kwargs["architecture"] = architecture
    log2 = int(np.log2(resolution))
    v = Vars(seed)

    def conv(scope: str, k: int, cin: int, cout: int, bias: bool = True) -> None:
        v.add(f"{scope}/weight", [k, k, cin, cout])
        if bias:
            v.add(f"{scope}/bias", [cout], scale=0.2)

    if revised:
        v.values["lod"] = np.zeros((), np.float32)
        for res in range(log2, 1, -1):
            conv(f"FromRGB_lod{log2 - res}", 1, 3, nf(fmap_base, fmap_max=fmap_max, stage=res - 1))
    for res in range(log2, 2, -1):
        scope = f"{2**res}x{2**res}"
        c0, c1 = (
            nf(fmap_base, fmap_max=fmap_max, stage=res - 1),
            nf(fmap_base, fmap_max=fmap_max, stage=res - 2),
        )
        if not revised and (architecture == "skip" or res == log2):
            conv(f"{scope}/FromRGB", 1, 3, c0)
        conv(f"{scope}/Conv0", 3, c0, c0)
        conv(f"{scope}/Conv1_down", 3, c0, c1)
        if architecture == "resnet" and not revised:
            conv(f"{scope}/Skip", 1, c0, c1, bias=False)
    c = nf(fmap_base, fmap_max=fmap_max, stage=1)
    if architecture == "skip" and not revised:
        conv("4x4/FromRGB", 1, 3, c)
    conv("4x4/Conv", 3, c + 1, c)
    v.add("4x4/Dense0/weight", [c * 16, nf(fmap_base, fmap_max=fmap_max, stage=0)])
    v.add("4x4/Dense0/bias", [nf(fmap_base, fmap_max=fmap_max, stage=0)], scale=0.2)
    v.add("Output/weight", [nf(fmap_base, fmap_max=fmap_max, stage=0), 1])
    v.add("Output/bias", [1], scale=0.2)
    return tf_net("D", func, kwargs, v.values, family="stylegan2-ada" if func == "D_main" else "stylegan2")


def ada_tf_states(c_dim: int = 0, resolution: int = 16) -> tuple[dict[str, Any], ...]:
    """``(G, D, Gs)`` as NVlabs/stylegan2-ada's training loop pickles them (Network version 5, protocol 3),
    with train.py's ``num_fp16_res=4``, ``conv_clamp=256`` and ``mbstd_group_size``. With ``c_dim`` the layout
    of the official ``cifar10.pkl``: ``LabelEmbed`` in G_mapping (``label_fmaps`` None = latent_size, Dense0
    sees ``[z, embedded label]``) and D_main's ``LabelEmbed`` with no ``Mapping{i}`` layers
    (``mapping_layers = 0``, D_main's default, absent from the kwargs), width ``mapping_fmaps = nf(0)``, D
    architecture 'orig'."""
    shared = {"label_size": c_dim, "num_fp16_res": 4, "conv_clamp": 256}

    def generator(name: str, seed: int) -> dict[str, Any]:
        g = sg2_generator_state(
            resolution, 64, synthesis_func="G_synthesis", seed=seed, name=name, extra=shared
        )
        if c_dim:
            rng = np.random.RandomState(seed + 60)
            mapping = g["components"]["mapping"]
            wide = (rng.randn(2 * Z_DIM, W_DIM) * 100).astype(np.float32)
            mapping["variables"] = [
                ("LabelEmbed/weight", rng.randn(c_dim, Z_DIM).astype(np.float32)),
                ("LabelEmbed/bias", rng.randn(Z_DIM).astype(np.float32)),
            ] + [(n, wide if n == "Dense0/weight" else v) for n, v in mapping["variables"]]
        return g

    d_extra = {**shared, "mbstd_group_size": 4}
    d = sg2_discriminator_state(resolution, architecture="orig" if c_dim else "resnet", func="D_main",
                                extra=d_extra)  # fmt: skip
    if c_dim:
        cmap = nf(128, 0, fmap_max=32)
        rng = np.random.RandomState(71)
        d["variables"] = [(n, v) for n, v in d["variables"] if not n.startswith("Output/")] + [
            ("LabelEmbed/weight", rng.randn(c_dim, cmap).astype(np.float32)),
            ("LabelEmbed/bias", (rng.randn(cmap) * 0.2).astype(np.float32)),
            ("Output/weight", rng.randn(cmap, cmap).astype(np.float32)),
            ("Output/bias", (rng.randn(cmap) * 0.2).astype(np.float32)),
        ]
    return generator("G", 80), d, generator("Gs", 90)


# ----------------------------------------------------------------------------------------------------------
# Independent NumPy forward passes of the TF graphs (NCHW, TF weight layouts).


def np_lrelu(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, x, 0.2 * x)


def np_conv_same(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """TF ``conv2d(padding='SAME')`` (cross-correlation), x ``[N, I, H, W]``, w ``[k, k, I, O]`` or per-sample
    ``[N, k, k, I, O]``."""
    k = w.shape[-4]
    p = k // 2
    xp = np.pad(x, [(0, 0), (0, 0), (p, p), (p, p)])
    h, wd = x.shape[2:]
    out = np.zeros([x.shape[0], w.shape[-1], h, wd])
    for ky in range(k):
        for kx in range(k):
            patch = xp[:, :, ky : ky + h, kx : kx + wd]
            wk = w[..., ky, kx, :, :]
            out = out + (
                np.einsum("nihw,io->nohw", patch, wk)
                if w.ndim == 4
                else np.einsum("nihw,nio->nohw", patch, wk)
            )
    return out


def np_upfirdn(x: np.ndarray, k1: list[float], up: int, pad0: int, pad1: int, gain: float) -> np.ndarray:
    """TF ``_simple_upfirdn_2d`` with a separable FIR (normalized, times ``gain``), ``down = 1``."""
    k = np.outer(k1, k1).astype(np.float64)
    k = k / k.sum() * gain
    n, c, h, w = x.shape
    u = np.zeros([n, c, h * up, w * up])
    u[:, :, ::up, ::up] = x
    u = np.pad(u, [(0, 0), (0, 0), (pad0, pad1), (pad0, pad1)])
    kf = k[::-1, ::-1]
    oh, ow = u.shape[2] - k.shape[0] + 1, u.shape[3] - k.shape[1] + 1
    out = np.zeros([n, c, oh, ow])
    for ky in range(k.shape[0]):
        for kx in range(k.shape[1]):
            out += kf[ky, kx] * u[:, :, ky : ky + oh, kx : kx + ow]
    return out


def np_upsample_conv(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """TF ``upsample_conv_2d`` (factor 2, k [1,3,3,1]): transposed conv of the flipped kernel, stride 2,
    'VALID', then the FIR with padding (1, 1) and gain 4. Per-sample ``w [N, 3, 3, I, O]``."""
    n, _, h, wd = x.shape
    wf = w[:, ::-1, ::-1]
    out = np.zeros([n, w.shape[-1], 2 * h + 1, 2 * wd + 1])
    for ty in range(3):
        for tx in range(3):
            out[:, :, ty : ty + 2 * h - 1 : 2, tx : tx + 2 * wd - 1 : 2] += np.einsum(
                "nihw,nio->nohw", x, wf[:, ty, tx]
            )
    return np_upfirdn(out, [1, 3, 3, 1], up=1, pad0=1, pad1=1, gain=4.0)


def np_sg2_mapping(variables: dict[str, np.ndarray], z: np.ndarray, layers: int = 3) -> np.ndarray:
    x = z * (np.mean(z**2, axis=1, keepdims=True) + 1e-8) ** -0.5
    for i in range(layers):
        w = variables[f"mapping/Dense{i}/weight"] * (0.01 / np.sqrt(x.shape[1]))
        x = np_lrelu(x @ w + variables[f"mapping/Dense{i}/bias"] * 0.01) * SQRT2
    return x


def np_modconv(
    variables: dict[str, np.ndarray],
    scope: str,
    x: np.ndarray,
    w_lat: np.ndarray,
    demodulate: bool = True,
    up: bool = False,
) -> np.ndarray:
    weight = variables[f"{scope}/weight"]
    k, _, cin, _ = weight.shape
    s = (
        w_lat @ (variables[f"{scope}/mod_weight"] / np.sqrt(w_lat.shape[1]))
        + variables[f"{scope}/mod_bias"]
        + 1
    )
    ww = weight[None] / np.sqrt(k * k * cin) * s[:, None, None, :, None]  # [N, k, k, I, O]
    if demodulate:
        ww = ww / np.sqrt(np.sum(ww**2, axis=(1, 2, 3), keepdims=True) + 1e-8)
    return np_upsample_conv(x, ww) if up else np_conv_same(x, ww)


def np_sg2_synthesis(variables: dict[str, np.ndarray], ws: np.ndarray, resolution: int) -> np.ndarray:
    """``G_synthesis_stylegan2`` (skip) with ``randomize_noise=False`` (the stored noise variables)."""
    s = "synthesis"

    def layer(scope: str, x: np.ndarray, idx: int, up: bool = False) -> np.ndarray:
        x = np_modconv(variables, f"{s}/{scope}", x, ws[:, idx], up=up)
        x = x + variables[f"{s}/noise{idx}"] * variables[f"{s}/{scope}/noise_strength"]
        return np_lrelu(x + variables[f"{s}/{scope}/bias"].reshape(1, -1, 1, 1)) * SQRT2

    def torgb(scope: str, x: np.ndarray, idx: int) -> np.ndarray:
        t = np_modconv(variables, f"{s}/{scope}", x, ws[:, idx], demodulate=False)
        return t + variables[f"{s}/{scope}/bias"].reshape(1, -1, 1, 1)

    log2 = int(np.log2(resolution))
    x = np.repeat(variables[f"{s}/4x4/Const/const"], ws.shape[0], axis=0)
    x = layer("4x4/Conv", x, 0)
    y = torgb("4x4/ToRGB", x, 1)
    for res in range(3, log2 + 1):
        scope = f"{2**res}x{2**res}"
        x = layer(f"{scope}/Conv0_up", x, 2 * res - 5, up=True)
        x = layer(f"{scope}/Conv1", x, 2 * res - 4)
        y = np_upfirdn(y, [1, 3, 3, 1], up=2, pad0=2, pad1=1, gain=4.0) + torgb(
            f"{scope}/ToRGB", x, 2 * res - 3
        )
    return y


def np_v1_generator(
    variables: dict[str, np.ndarray], z: np.ndarray, resolution: int, fused: bool
) -> np.ndarray:
    """``G_style`` with ``randomize_noise=False``, truncation off, at lod 0 (networks_stylegan.py)."""
    x = z * (np.mean(z**2, axis=1, keepdims=True) + 1e-8) ** -0.5
    for i in range(3):
        w = variables[f"mapping/Dense{i}/weight"] * (SQRT2 / np.sqrt(x.shape[1]) * 0.01)
        x = np_lrelu(x @ w + variables[f"mapping/Dense{i}/bias"] * 0.01)
    w_lat = x
    s = "synthesis"

    def epilogue(scope: str, x: np.ndarray, idx: int) -> np.ndarray:
        x = x + variables[f"{s}/noise{idx}"] * variables[f"{s}/{scope}/Noise/weight"].reshape(1, -1, 1, 1)
        x = np_lrelu(x + variables[f"{s}/{scope}/bias"].reshape(1, -1, 1, 1))
        x = x - x.mean(axis=(2, 3), keepdims=True)
        x = x / np.sqrt(np.mean(x**2, axis=(2, 3), keepdims=True) + 1e-8)
        style = w_lat @ (variables[f"{s}/{scope}/StyleMod/weight"] / np.sqrt(W_DIM))
        style = (style + variables[f"{s}/{scope}/StyleMod/bias"]).reshape(-1, 2, x.shape[1], 1, 1)
        return x * (style[:, 0] + 1) + style[:, 1]

    def scaled(scope: str, gain: float = SQRT2) -> np.ndarray:
        w = variables[f"{s}/{scope}/weight"]
        return w * (gain / np.sqrt(np.prod(w.shape[:3])))

    def blur(x: np.ndarray) -> np.ndarray:
        return np_upfirdn(x, [1, 2, 1], up=1, pad0=1, pad1=1, gain=1.0)

    def up_conv(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        if not fused:
            return np_conv_same(x.repeat(2, axis=2).repeat(2, axis=3), w)
        wp = np.pad(w, [(1, 1), (1, 1), (0, 0), (0, 0)])
        w4 = wp[1:, 1:] + wp[:-1, 1:] + wp[1:, :-1] + wp[:-1, :-1]  # [4, 4, I, O]
        n, _, h, wd = x.shape
        full = np.zeros([n, w.shape[-1], 2 * h + 2, 2 * wd + 2])
        for ty in range(4):
            for tx in range(4):
                full[:, :, ty : ty + 2 * h - 1 : 2, tx : tx + 2 * wd - 1 : 2] += np.einsum(
                    "nihw,io->nohw", x, w4[ty, tx]
                )
        return full[:, :, 1 : 1 + 2 * h, 1 : 1 + 2 * wd]  # TF 'SAME' for the transposed conv crops 1 before

    log2 = int(np.log2(resolution))
    x = epilogue("4x4/Const", np.repeat(variables[f"{s}/4x4/Const/const"], z.shape[0], axis=0), 0)
    x = epilogue("4x4/Conv", np_conv_same(x, scaled("4x4/Conv")), 1)
    for res in range(3, log2 + 1):
        scope = f"{2**res}x{2**res}"
        x = epilogue(f"{scope}/Conv0_up", blur(up_conv(x, scaled(f"{scope}/Conv0_up"))), 2 * res - 4)
        x = epilogue(f"{scope}/Conv1", np_conv_same(x, scaled(f"{scope}/Conv1")), 2 * res - 3)
    return np_conv_same(x, scaled("ToRGB_lod0", gain=1.0)) + variables[f"{s}/ToRGB_lod0/bias"].reshape(
        1, -1, 1, 1
    )


def np_v1_discriminator(variables: dict[str, np.ndarray], img: np.ndarray, resolution: int) -> np.ndarray:
    """``D_basic`` at lod 0, non-fused down-sampling (conv, then 2x2 average), minibatch std group 4."""

    def conv(scope: str, x: np.ndarray, gain: float = SQRT2) -> np.ndarray:
        w = variables[f"{scope}/weight"]
        w = w * (gain / np.sqrt(np.prod(w.shape[:3])))
        return np_conv_same(x, w) + variables[f"{scope}/bias"].reshape(1, -1, 1, 1)

    def dense(scope: str, x: np.ndarray, gain: float = SQRT2) -> np.ndarray:
        w = variables[f"{scope}/weight"]
        return x @ (w * (gain / np.sqrt(w.shape[0]))) + variables[f"{scope}/bias"]

    log2 = int(np.log2(resolution))
    x = np_lrelu(conv("FromRGB_lod0", img))
    for res in range(log2, 2, -1):
        scope = f"{2**res}x{2**res}"
        x = np_lrelu(conv(f"{scope}/Conv0", x))
        x = np_upfirdn(x, [1, 2, 1], up=1, pad0=1, pad1=1, gain=1.0)
        w = variables[f"{scope}/Conv1_down/weight"]
        y = np_conv_same(x, w * (SQRT2 / np.sqrt(np.prod(w.shape[:3]))))
        n, c, h, wd = y.shape
        y = y.reshape(n, c, h // 2, 2, wd // 2, 2).mean(axis=(3, 5))
        x = np_lrelu(y + variables[f"{scope}/Conv1_down/bias"].reshape(1, -1, 1, 1))
    g = min(4, x.shape[0])
    yy = x.reshape(g, -1, *x.shape[1:])
    yy = np.sqrt(np.mean((yy - yy.mean(axis=0)) ** 2, axis=0) + 1e-8).mean(axis=(1, 2, 3))  # [M]
    x = np.concatenate([x, np.tile(yy, g).reshape(-1, 1, 1, 1) * np.ones([1, 1, 4, 4])], axis=1)
    x = np_lrelu(conv("4x4/Conv", x))
    x = np_lrelu(dense("4x4/Dense0", x.reshape(x.shape[0], -1)))
    return dense("4x4/Dense1", x, gain=1.0)


def flat_vars(state: dict[str, Any], prefix: str = "") -> dict[str, np.ndarray]:
    out = {prefix + name: value for name, value in state["variables"]}
    for key, comp in state["components"].items():
        out.update(flat_vars(comp, f"{prefix}{key}/"))
    return out


def seeds_z(n: int = 2, seed: int = 5) -> np.ndarray:
    return np.random.RandomState(seed).randn(n, Z_DIM)


# ----------------------------------------------------------------------------------------------------------
# Tests: reading records and refusing everything else.


def test_records_keep_structure_and_variables(tmp_path: Path) -> None:
    g = sg2_generator_state(name="G")
    d = sg2_discriminator_state()
    gs = sg2_generator_state(seed=7)
    path = write_pickle(tmp_path / "net.pkl", g, d, gs)
    tf = read_tf_pickle(path)
    assert tf.G is not None and tf.D is not None and tf.Gs is not None
    assert (tf.Gs.version, tf.Gs.name, tf.Gs.build_func_name) == (4, "Gs", "G_main")
    assert set(tf.Gs.components) == {"synthesis", "mapping"}
    assert tf.Gs.components["synthesis"].build_func_name == "G_synthesis_stylegan2"
    assert tf.Gs.static_kwargs["resolution"] == 8
    expected = flat_vars(gs)
    got = tf.Gs.all_variables()
    assert list(got) == list(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(got[name], value)
    assert len(tf.sha256) == 64


def test_build_module_src_is_never_executed(tmp_path: Path) -> None:
    # tf_net's build_module_src raises when executed; reading must still succeed.
    path = write_pickle(tmp_path / "v1.pkl", v1_generator_state())
    record = read_tf_pickle(path).Gs
    assert record is not None and record.build_func_name == "G_style" and record.version == 3


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (os.system, (f"touch {self.marker}",))


def test_refuses_foreign_globals(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    state = sg2_generator_state()
    state["static_kwargs"]["payload"] = _Evil(marker)
    path = write_pickle(tmp_path / "evil.pkl", state)
    with pytest.raises(Sg2Error, match="refuse"):
        read_tf_pickle(path)
    assert not marker.exists()
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps(_Evil(marker)))
    with pytest.raises(Sg2Error):
        read_tf_pickle(plain)
    assert not marker.exists()


def test_refuses_non_network_and_unknown_version(tmp_path: Path) -> None:
    with pytest.raises(Sg2Error, match="Network"):
        read_tf_pickle(io.BytesIO(pickle.dumps({"a": np.zeros(3)})))
    state = sg2_generator_state()
    state["version"] = 9
    with pytest.raises(Sg2Error, match="version"):
        read_tf_pickle(write_pickle(tmp_path / "v9.pkl", state, family="stylegan2"))


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_easydict_and_protocols(tmp_path: Path, protocol: int) -> None:
    path = write_pickle(tmp_path / "e.pkl", sg2_generator_state(), protocol=protocol, easydict=True)
    assert b"EasyDict" in path.read_bytes()
    record = read_tf_pickle(path).Gs
    assert record is not None and record.static_kwargs["fmap_base"] == 64
    assert type(record.static_kwargs) is dict and set(record.components) == {"synthesis", "mapping"}


# ----------------------------------------------------------------------------------------------------------
# Tests: conversion tables and forward passes.


def test_stylegan2_parameters_flips_transposes_and_mod_bias(tmp_path: Path) -> None:
    state = sg2_generator_state(resolution=16, architecture="resnet")
    record = read_tf_pickle(write_pickle(tmp_path / "g.pkl", state)).Gs
    assert record is not None
    converted = convert_generator(record)
    module: Any = converted.module
    sd = module.state_dict()
    v = flat_vars(state)
    assert converted.architecture == "stylegan2"
    np.testing.assert_array_equal(sd["mapping.w_avg"].numpy(), v["dlatent_avg"])
    np.testing.assert_array_equal(sd["mapping.fc1.weight"].numpy(), v["mapping/Dense1/weight"].T)
    np.testing.assert_array_equal(sd["synthesis.b4.const"].numpy(), v["synthesis/4x4/Const/const"][0])
    np.testing.assert_array_equal(
        sd["synthesis.b4.conv1.weight"].numpy(), v["synthesis/4x4/Conv/weight"].transpose(3, 2, 0, 1)
    )
    np.testing.assert_allclose(
        sd["synthesis.b8.conv0.affine.bias"].numpy(),
        v["synthesis/8x8/Conv0_up/mod_bias"] + 1,
        rtol=0,
        atol=1e-6,
    )
    np.testing.assert_array_equal(
        sd["synthesis.b8.conv0.weight"].numpy(),
        v["synthesis/8x8/Conv0_up/weight"][::-1, ::-1].transpose(3, 2, 0, 1),
    )
    np.testing.assert_array_equal(
        sd["synthesis.b16.skip.weight"].numpy(),
        v["synthesis/16x16/Skip/weight"][::-1, ::-1].transpose(3, 2, 0, 1),
    )
    np.testing.assert_array_equal(
        sd["synthesis.b16.conv1.affine.weight"].numpy(), v["synthesis/16x16/Conv1/mod_weight"].T
    )
    for res, conv, idx in ((8, "conv0", 1), (8, "conv1", 2), (16, "conv0", 3), (16, "conv1", 4)):
        np.testing.assert_array_equal(
            sd[f"synthesis.b{res}.{conv}.noise_const"].numpy(), v[f"synthesis/noise{idx}"][0, 0]
        )
    assert "synthesis.b8.torgb.weight" not in sd  # resnet: ToRGB at the last block only
    assert module.config.synthesis.channel_base == 128


def test_stylegan2_render_matches_numpy_reference(tmp_path: Path) -> None:
    state = sg2_generator_state(resolution=8, architecture="skip")
    record = read_tf_pickle(write_pickle(tmp_path / "g.pkl", state)).Gs
    assert record is not None
    G: Any = convert_generator(record).module
    v = flat_vars(state)
    z = seeds_z()
    ws_ref = np_sg2_mapping(v, z)
    num_ws = 4
    with torch.no_grad():
        ws = G.mapping(torch.from_numpy(z).float(), None)
        img = G.synthesis(ws, noise_mode="const")
        ws_trunc = G.mapping(torch.from_numpy(z).float(), None, truncation_psi=0.5)
    np.testing.assert_allclose(ws[:, 0].numpy(), ws_ref, rtol=1e-4, atol=1e-5)
    w_avg = v["dlatent_avg"]
    np.testing.assert_allclose(ws_trunc[:, 0].numpy(), w_avg + 0.5 * (ws_ref - w_avg), rtol=1e-4, atol=1e-5)
    ref = np_sg2_synthesis(v, np.repeat(ws_ref[:, None], num_ws, axis=1), 8)
    assert img.shape == (2, 3, 8, 8)
    assert np.abs(ref).max() > 0.1
    np.testing.assert_allclose(img.numpy(), ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize("fused", [False, True])
def test_stylegan1_render_matches_numpy_reference(tmp_path: Path, fused: bool) -> None:
    extra = {"fused_scale": True} if fused else {}
    state = v1_generator_state(resolution=16, **extra)
    record = read_tf_pickle(write_pickle(tmp_path / "v1.pkl", state)).Gs
    assert record is not None
    converted = convert_generator(record)
    assert converted.architecture == "stylegan1"
    G = converted.module
    z = seeds_z()
    with torch.no_grad():
        img = G(torch.from_numpy(z).float(), None, noise_mode="const").numpy()
    ref = np_v1_generator(flat_vars(state), z, 16, fused=fused)
    assert img.shape == ref.shape == (2, 3, 16, 16)
    np.testing.assert_allclose(img, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_stylegan1_discriminator_matches_numpy_reference(tmp_path: Path) -> None:
    state = v1_discriminator_state(resolution=16)
    record = read_tf_pickle(write_pickle(tmp_path / "d.pkl", state)).D
    assert record is not None
    converted = convert_discriminator(record)
    assert converted.architecture == "stylegan1"
    img = np.random.RandomState(3).randn(4, 3, 16, 16)
    with torch.no_grad():
        out = converted.module(torch.from_numpy(img).float()).numpy()
    ref = np_v1_discriminator(flat_vars(state), img, 16)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_stylegan1_uses_the_shared_layers() -> None:
    """v1's dense layers, minibatch std and pixel norm are the StyleGAN2 layers; the sqrt(2) gain of v1's
    dense layers sits in the weight scale, before the bias (TF v1 ``dense(gain=sqrt(2))``)."""
    from sg2model.networks.discriminator import MinibatchStdLayer
    from sg2model.networks.layers import FullyConnectedLayer

    torch.manual_seed(0)
    small = {"z_dim": Z_DIM, "w_dim": W_DIM, "mapping_features": W_DIM, "channel_base": 64}
    G = StyleGAN1Generator.from_config("A", 8, **small)
    D = StyleGAN1Discriminator.from_config("A", 8, channel_base=64)
    dense = [G.mapping.fc0, G.synthesis.b4["conv"].style, D.b4["fc"], D.b4["out"]]
    assert all(type(layer) is FullyConnectedLayer for layer in dense)
    assert type(D.b4["mbstd"]) is MinibatchStdLayer and D.b4["mbstd"].group_size == 4
    fc = G.mapping.fc0
    with torch.no_grad():
        fc.bias.normal_()
        x = torch.randn(3, Z_DIM)
        plain = x @ (fc.weight * 0.01 / math.sqrt(Z_DIM)).t()
        torch.testing.assert_close(fc(x), SQRT2 * plain + 0.01 * fc.bias)
    no_mbstd = StyleGAN1Discriminator.from_config("A", 8, channel_base=64, mbstd_group_size=1)
    assert "mbstd" not in no_mbstd.b4 and no_mbstd.b4["conv"].weight.shape[1] == 16
    assert D.b4["conv"].weight.shape[1] == 17
    with pytest.raises(Sg2Error, match="minibatch std needs the batch"):
        D(torch.zeros(6, 3, 8, 8))


@pytest.mark.parametrize("architecture", ["orig", "skip", "resnet"])
def test_stylegan2_discriminators_load(tmp_path: Path, architecture: str) -> None:
    state = sg2_discriminator_state(architecture=architecture)
    record = read_tf_pickle(write_pickle(tmp_path / "d.pkl", state)).D
    assert record is not None
    converted = convert_discriminator(record)
    D = converted.module
    v = flat_vars(state)
    sd = D.state_dict()
    np.testing.assert_array_equal(
        sd["b16.conv1.weight"].numpy(), v["16x16/Conv1_down/weight"].transpose(3, 2, 0, 1)
    )
    np.testing.assert_array_equal(sd["b4.out.weight"].numpy(), v["Output/weight"].T)
    np.testing.assert_array_equal(sd["b4.fc.weight"].numpy(), v["4x4/Dense0/weight"].T)
    if architecture == "resnet":  # the discriminator's skip is not flipped (it is not a transposed conv)
        np.testing.assert_array_equal(
            sd["b16.skip.weight"].numpy(), v["16x16/Skip/weight"].transpose(3, 2, 0, 1)
        )
    with torch.no_grad():
        logits = D(torch.randn(4, 3, 16, 16))
    assert logits.shape == (4, 1) and torch.isfinite(logits).all()


def test_revised_configs_b_to_d_use_final_level_output(tmp_path: Path) -> None:
    g = sg2_generator_state(resolution=16, synthesis_func="G_synthesis_stylegan_revised")
    d = sg2_discriminator_state(resolution=16, func="D_stylegan")
    tf = read_tf_pickle(write_pickle(tmp_path / "b.pkl", g, d, g))
    assert tf.Gs is not None and tf.D is not None
    G = convert_generator(tf.Gs)
    D = convert_discriminator(tf.D)
    assert (G.architecture, D.architecture) == ("revised", "revised")
    g_net: Any = G.module
    d_net: Any = D.module
    assert g_net.config.synthesis.architecture == "orig" and d_net.config.architecture == "orig"
    v = flat_vars(g)
    sd = G.module.state_dict()
    np.testing.assert_array_equal(
        sd["synthesis.b16.torgb.weight"].numpy(), v["synthesis/ToRGB_lod0/weight"].transpose(3, 2, 0, 1)
    )
    np.testing.assert_allclose(
        sd["synthesis.b16.torgb.affine.bias"].numpy(), v["synthesis/ToRGB_lod0/mod_bias"] + 1, atol=1e-6
    )
    np.testing.assert_array_equal(
        D.module.state_dict()["b16.fromrgb.weight"].numpy(),
        flat_vars(d)["FromRGB_lod0/weight"].transpose(3, 2, 0, 1),
    )
    with torch.no_grad():
        img = G.module(torch.randn(2, Z_DIM), None, noise_mode="const")
    assert img.shape == (2, 3, 16, 16) and torch.isfinite(img).all()


def test_mismatched_or_unknown_variables_are_refused(tmp_path: Path) -> None:
    state = sg2_generator_state()
    syn = state["components"]["synthesis"]
    syn["variables"] = [(n, v) for n, v in syn["variables"] if n != "8x8/Conv1/bias"]
    record = read_tf_pickle(write_pickle(tmp_path / "a.pkl", state)).Gs
    assert record is not None
    with pytest.raises(Sg2Error, match="8x8/Conv1/bias"):
        convert_generator(record)
    state = sg2_generator_state()
    state["components"]["synthesis"]["variables"].append(("8x8/Extra/weight", np.zeros(3, np.float32)))
    record = read_tf_pickle(write_pickle(tmp_path / "b.pkl", state)).Gs
    assert record is not None
    with pytest.raises(Sg2Error, match="Extra"):
        convert_generator(record)
    state = sg2_generator_state()
    state["components"]["synthesis"]["build_func_name"] = "G_synthesis_custom"
    record = read_tf_pickle(write_pickle(tmp_path / "c.pkl", state)).Gs
    assert record is not None
    with pytest.raises(Sg2Error, match="unsupported"):
        convert_generator(record)


def test_snapshot_taken_while_growing_is_refused(tmp_path: Path) -> None:
    state = v1_generator_state()
    syn = state["components"]["synthesis"]
    syn["variables"] = [(n, np.full((), 0.5, np.float32) if n == "lod" else v) for n, v in syn["variables"]]
    with pytest.raises(Sg2Error, match="lod"):
        load_network(write_pickle(tmp_path / "growing.pkl", state, v1_discriminator_state(), state))


# ----------------------------------------------------------------------------------------------------------
# Tests: load_network, `sg2eval convert` and `sg2eval info`.


def _official_like(tmp_path: Path, name: str = "stylegan2-ffhq-config-e.pkl") -> Path:
    g = sg2_generator_state(resolution=16, fmap_base=64, name="G", seed=40)
    gs = sg2_generator_state(resolution=16, fmap_base=64, seed=41)
    return write_pickle(tmp_path / name, g, sg2_discriminator_state(resolution=16), gs)


def test_load_network_reads_tf_pickles(tmp_path: Path) -> None:
    path = _official_like(tmp_path)
    bundle = load_network(path)
    assert bundle.source_format == "tf-pkl" and len(bundle.sha256) == 64
    assert bundle.G is not None and bundle.D is not None and bundle.G_ema is not None
    assert bundle.meta["tf"]["G_ema"]["architecture"] == "stylegan2"
    assert bundle.meta["tf"]["D"]["build_func_name"] == "D_stylegan2"
    record = read_tf_pickle(path).Gs
    assert record is not None
    direct: Any = convert_generator(record).module
    z = torch.from_numpy(seeds_z()).float()
    net: Any = bundle.generator
    with torch.no_grad():
        torch.testing.assert_close(net(z, None, noise_mode="const"), direct(z, None, noise_mode="const"))


def test_convert_then_info_verify(tmp_path: Path) -> None:
    src = _official_like(tmp_path)
    out = tmp_path / "net.sg2"
    runner = CliRunner()
    result = runner.invoke(cli, ["convert", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["info", str(out), "--verify", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["verify"]["status"] == "exact"
    assert summary["origin"] == "TensorFlow" and summary["format"] == "sg2"
    assert summary["tf_architectures"] == {"G": "stylegan2", "D": "stylegan2", "G_ema": "stylegan2"}
    rows = {row["network"]: row for row in summary["networks"]}
    assert rows["G_ema"]["preset"] == "E"  # from the official file name stylegan2-ffhq-config-e.pkl
    bundle = load_network(src)
    assert rows["G_ema"]["parameters"] == sum(p.numel() for p in bundle.generator.parameters())
    assert rows["G_ema"]["resolution"] == 16
    # A damaged conversion (one weight changed) fails verification.
    converted = load_network(out)
    g_ema: Any = converted.G_ema
    with torch.no_grad():
        g_ema.synthesis.b16.torgb.bias.add_(0.5)
    damaged = tmp_path / "damaged.sg2"
    save_network(damaged, G=converted.G, D=converted.D, G_ema=g_ema, **converted.meta)
    result = runner.invoke(cli, ["info", str(damaged), "--verify"])
    assert result.exit_code != 0 and "differ" in result.output


def test_info_on_a_tf_pickle_reports_origin_and_counts(tmp_path: Path) -> None:
    src = _official_like(tmp_path)
    result = CliRunner().invoke(cli, ["info", str(src), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["origin"] == "TensorFlow" and summary["sha256"] == read_tf_pickle(src).sha256
    assert [row["network"] for row in summary["networks"]] == ["G", "D", "G_ema"]
    assert all(row["parameters"] > 0 for row in summary["networks"])


def test_stylegan1_network_round_trips_through_sg2(tmp_path: Path) -> None:
    src = write_pickle(
        tmp_path / "karras2019stylegan-like.pkl",
        v1_generator_state(resolution=16),
        v1_discriminator_state(resolution=16),
        v1_generator_state(resolution=16, seed=50),
    )
    out = tmp_path / "v1.sg2"
    result = CliRunner().invoke(cli, ["convert", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    original, converted = load_network(src), load_network(out)
    assert type(converted.generator).__name__ == "StyleGAN1Generator"
    assert type(converted.D).__name__ == "StyleGAN1Discriminator"
    z = torch.from_numpy(seeds_z()).float()
    g0: Any = original.generator
    g1: Any = converted.generator
    with torch.no_grad():
        torch.testing.assert_close(g1(z, None, noise_mode="const"), g0(z, None, noise_mode="const"))
    result = CliRunner().invoke(cli, ["info", str(out), "--verify", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["verify"]["status"] == "exact"


# ----------------------------------------------------------------------------------------------------------
# Tests: presets A-D, StyleGAN2-ADA (TF) networks, name tables at the official sizes.


def test_presets_a_to_d() -> None:
    for name in ("B", "C", "D"):
        G = Generator.from_config(name, 32)
        D = Discriminator.from_config(name, 32)
        assert G.config.synthesis.architecture == "orig" and D.config.architecture == "orig"
        assert G.config.synthesis.channel_base == 16384 and G.config.preset == name
        assert "Table 1" in get_preset(name).paper_row
    g_a = StyleGAN1Generator.from_config("A", 32)
    assert g_a.config.channel_base == 16384 and g_a.num_ws == 8
    assert StyleGAN1Discriminator.from_config("A-large", 32).config.channel_base == 32768
    with pytest.raises(Sg2Error):
        StyleGAN1Generator.from_config("Z", 32)
    with pytest.raises(Sg2Error):
        StyleGAN1Generator.from_config("A", 32, no_such_option=1)


def test_stylegan2_ada_tf_networks(tmp_path: Path) -> None:
    g = sg2_generator_state(resolution=8, synthesis_func="G_synthesis")
    g["components"]["synthesis"]["static_kwargs"]["conv_clamp"] = 256
    d = sg2_discriminator_state(resolution=8, func="D_main")
    tf = read_tf_pickle(write_pickle(tmp_path / "ada-tf.pkl", g, d, g))
    assert tf.Gs is not None and tf.D is not None
    converted = convert_generator(tf.Gs)
    G: Any = converted.module
    assert converted.architecture == "stylegan2-ada-tf" and G.config.synthesis.conv_clamp == 256
    assert convert_discriminator(tf.D).architecture == "stylegan2-ada-tf"
    v = flat_vars(g)
    z = seeds_z()
    ref = np_sg2_synthesis(v, np.repeat(np_sg2_mapping(v, z)[:, None], 4, axis=1), 8)
    with torch.no_grad():
        img = G(torch.from_numpy(z).float(), None, noise_mode="const").numpy()
    np.testing.assert_allclose(img, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def _kwargs_only(
    func: str, kwargs: dict[str, Any], components: dict[str, TFNetworkRecord] | None = None
) -> TFNetworkRecord:
    return TFNetworkRecord(4, func, func, kwargs, components or {}, {})


@pytest.mark.parametrize(
    ("synthesis_func", "top", "extra"),
    [
        ("G_synthesis_stylegan2", "G_main", {"fmap_base": 16384}),  # config F
        ("G_synthesis_stylegan2", "G_main", {"fmap_base": 8192, "architecture": "resnet"}),  # Table 2
        ("G_synthesis_stylegan_revised", "G_main", {"fmap_base": 8192}),  # configs B-D
        ("G_synthesis", "G_style", {}),  # config A / StyleGAN v1 (fmap_base 8192 default)
    ],
)
def test_name_tables_cover_official_1024_networks(
    synthesis_func: str, top: str, extra: dict[str, Any]
) -> None:
    kwargs = {"num_channels": 3, "resolution": 1024, "label_size": 0, **extra}
    comps = {"synthesis": _kwargs_only(synthesis_func, kwargs), "mapping": _kwargs_only("G_mapping", kwargs)}
    module, _, rules = generator_rules(_kwargs_only(top, kwargs, comps))
    keys = {k for k in module.state_dict() if not k.endswith("resample_filter")}
    assert {rule.ours for rule in rules} == keys
    assert len({rule.tf for rule in rules}) == len(rules)
    net: Any = module
    assert net.num_ws == 18
    params = sum(p.numel() for p in module.parameters())
    if extra.get("fmap_base") == 16384:  # config F: about 30M parameters (paper, footnote on E -> F)
        assert 29e6 < params < 31e6
    if top == "G_style":  # StyleGAN v1 FFHQ 1024: 26.2M parameters in G
        assert 26.0e6 < params < 26.4e6


@pytest.mark.parametrize(
    ("func", "extra"), [("D_stylegan2", {"fmap_base": 16384}), ("D_stylegan", {}), ("D_basic", {})]
)
def test_discriminator_name_tables_cover_official_1024_networks(func: str, extra: dict[str, Any]) -> None:
    record = _kwargs_only(func, {"num_channels": 3, "resolution": 1024, "label_size": 0, **extra})
    module, _, rules = discriminator_rules(record)
    keys = {k for k in module.state_dict() if not k.endswith("resample_filter")}
    assert {rule.ours for rule in rules} == keys
    if func == "D_stylegan2":  # config F: about 29M parameters
        assert 28e6 < sum(p.numel() for p in module.parameters()) < 30e6


def test_conditional_stylegan2_ada_tf_networks(tmp_path: Path) -> None:
    c_dim = 3
    g = sg2_generator_state(resolution=8, synthesis_func="G_synthesis")
    mapping = g["components"]["mapping"]
    mapping["static_kwargs"]["label_size"] = c_dim
    rng = np.random.RandomState(60)
    embed_w = rng.randn(c_dim, Z_DIM).astype(np.float32)
    embed_b = rng.randn(Z_DIM).astype(np.float32)
    first = (rng.randn(2 * Z_DIM, W_DIM) * 100).astype(np.float32)  # Dense0 now sees [z, embedded label]
    mapping["variables"] = [("LabelEmbed/weight", embed_w), ("LabelEmbed/bias", embed_b)] + [
        (n, first if n == "Dense0/weight" else v) for n, v in mapping["variables"]
    ]
    d = sg2_discriminator_state(resolution=8, func="D_main")
    d["static_kwargs"].update(label_size=c_dim, mapping_layers=1, mapping_fmaps=8)
    d_rng = np.random.RandomState(61)
    d["variables"] = [(n, v) for n, v in d["variables"] if not n.startswith("Output/")] + [
        ("LabelEmbed/weight", d_rng.randn(c_dim, 8).astype(np.float32)),
        ("LabelEmbed/bias", np.zeros(8, np.float32)),
        ("Mapping0/weight", d_rng.randn(8, 8).astype(np.float32) * 10),
        ("Mapping0/bias", np.zeros(8, np.float32)),
        ("Output/weight", d_rng.randn(32, 8).astype(np.float32)),
        ("Output/bias", np.zeros(8, np.float32)),
    ]
    tf = read_tf_pickle(write_pickle(tmp_path / "cifar-like.pkl", g, d, g))
    assert tf.Gs is not None and tf.D is not None
    G: Any = convert_generator(tf.Gs).module
    D: Any = convert_discriminator(tf.D).module
    assert G.c_dim == c_dim and D.c_dim == c_dim
    z = seeds_z()
    c = np.eye(c_dim)[[0, 2]]
    y = c @ (embed_w / np.sqrt(c_dim)) + embed_b
    y = y / np.sqrt(np.mean(y**2, axis=1, keepdims=True) + 1e-8)
    x = np.concatenate([z / np.sqrt(np.mean(z**2, axis=1, keepdims=True) + 1e-8), y], axis=1)
    for i in range(3):
        w = flat_vars(g)[f"mapping/Dense{i}/weight"] if i else first
        x = (
            np_lrelu(x @ (w * 0.01 / np.sqrt(x.shape[1])) + flat_vars(g)[f"mapping/Dense{i}/bias"] * 0.01)
            * SQRT2
        )
    with torch.no_grad():
        ws = G.mapping(torch.from_numpy(z).float(), torch.from_numpy(c).float())
        logits = D(torch.randn(2, 3, 8, 8), torch.from_numpy(c).float())
    np.testing.assert_allclose(ws[:, 0].numpy(), x, rtol=1e-4, atol=1e-5)
    assert logits.shape == (2, 1) and torch.isfinite(logits).all()


def test_stylegan1_noise_inputs_override_each_layer(tmp_path: Path) -> None:
    record = read_tf_pickle(write_pickle(tmp_path / "v1.pkl", v1_generator_state(resolution=8))).Gs
    assert record is not None
    G: Any = convert_generator(record).module
    shapes = G.synthesis.noise_shapes()
    assert list(shapes) == ["b4.input", "b4.conv", "b8.conv0", "b8.conv1"]
    assert shapes["b8.conv0"] == (8, 8)
    ws = G.mapping(torch.from_numpy(seeds_z()).float(), None)
    const = {
        name: getattr(G.synthesis, name.split(".")[0])[name.split(".")[1]].noise_const for name in shapes
    }
    noise = {name: value.expand(2, 1, *value.shape) for name, value in const.items()}
    with torch.no_grad():
        a = G.synthesis(ws, noise_mode="const")
        b = G.synthesis(ws, noise_mode="random", noise_inputs=noise)
        c = G.synthesis(ws, noise_mode="none")
    torch.testing.assert_close(a, b)
    assert (a - c).abs().max() > 1e-3


def test_preset_guess_from_official_names() -> None:
    assert guess_preset("stylegan2-ffhq-config-c.pkl", "revised", 16384) == "C"
    assert guess_preset("stylegan2-car-config-e-Gorig-Dresnet.pkl", "stylegan2", 16384) == "E-orig-resnet"
    assert guess_preset("stylegan2-cat-config-f.pkl", "stylegan2", 32768) == "F"
    assert guess_preset("stylegan2-ffhq-config-a.pkl", "stylegan1", 16384) == "A"
    assert guess_preset("karras2019stylegan-ffhq-1024x1024.pkl", "stylegan1", 16384) == "A"
    assert guess_preset("ffhq.pkl", "stylegan2-ada-tf", 32768) is None
    assert guess_preset("stylegan2-ffhq-config-b.pkl", "stylegan2", 16384) is None  # name and graph disagree


# ----------------------------------------------------------------------------------------------------------
# Tests: the three TF code bases as they pickle (tests/helpers/nvidia_pickles.py), cifar10.pkl's layout.


def _family_pickle(tmp_path: Path, family: str, numpy_spelling: str) -> Path:
    """One file per TF family of docs/official_networks.md, in that code base's pickle format."""
    if family == "stylegan":  # karras2019stylegan-*.pkl
        states = (v1_generator_state(16), v1_discriminator_state(16), v1_generator_state(16, seed=51))
    elif family == "stylegan2":  # stylegan2-*-config-e/f.pkl
        states = (sg2_generator_state(16, name="G"), sg2_discriminator_state(16), sg2_generator_state(16))
    else:  # stylegan2-ada/pretrained/*.pkl
        states = ada_tf_states()
    return write_pickle(tmp_path / f"{family}.pkl", *states, numpy_spelling=numpy_spelling)


@pytest.mark.parametrize("numpy_spelling", ["numpy1", "numpy2"])
@pytest.mark.parametrize("family", sorted(TF_FAMILIES))
def test_official_tf_families_load(tmp_path: Path, family: str, numpy_spelling: str) -> None:
    path = _family_pickle(tmp_path, family, numpy_spelling)
    data = path.read_bytes()
    assert data[:2] == bytes([0x80, TF_FAMILIES[family].protocol])
    module = b"numpy.core.multiarray" if numpy_spelling == "numpy1" else b"numpy._core.multiarray"
    assert module in data and b"scalar" in data  # 0-d variables (lod, noise_strength) are numpy scalars
    tf = read_tf_pickle(path)
    assert tf.Gs is not None and tf.Gs.version == TF_FAMILIES[family].version
    bundle = load_network(path)
    G: Any = bundle.generator
    with torch.no_grad():
        img = G(torch.from_numpy(seeds_z()).float(), None, noise_mode="const")
        logits = bundle.D(torch.randn(4, 3, 16, 16))  # type: ignore[misc]
    assert img.shape == (2, 3, 16, 16) and torch.isfinite(img).all() and logits.shape == (4, 1)


def test_cifar10_like_conditional_discriminator_without_mapping_layers(tmp_path: Path) -> None:
    """The official cifar10.pkl's D: LabelEmbed + normalization is the whole label mapping."""
    c_dim = 3
    g, d, gs = ada_tf_states(c_dim=c_dim)
    assert "mapping_layers" not in d["static_kwargs"]
    bundle = load_network(write_pickle(tmp_path / "cifar10.pkl", g, d, gs))
    D: Any = bundle.D
    G: Any = bundle.generator
    assert D.c_dim == G.c_dim == c_dim and D.config.mapping.num_layers == 0 and D.config.cmap_dim == 32
    v = flat_vars(d)
    c = np.eye(c_dim)[[0, 2, 1, 0]]
    y = c @ (v["LabelEmbed/weight"] / np.sqrt(c_dim)) + v["LabelEmbed/bias"]
    y = y / np.sqrt(np.mean(y**2, axis=1, keepdims=True) + 1e-8)
    images = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        cmap = D.mapping(None, torch.from_numpy(c).float())
        logits = D(images, torch.from_numpy(c).float())
        other = D(images, torch.from_numpy(np.eye(c_dim)[[1, 1, 2, 2]]).float())
        ws = G.mapping(torch.from_numpy(seeds_z(4)).float(), torch.from_numpy(c).float())
    np.testing.assert_allclose(cmap.numpy(), y, rtol=1e-5, atol=1e-5)
    assert logits.shape == (4, 1) and (logits - other).abs().max() > 1e-3
    assert ws.shape == (4, 6, W_DIM) and G.mapping.embed.weight.shape == (Z_DIM, c_dim)


@pytest.mark.filterwarnings("ignore::sg2eval.weights.UnverifiedWeightsWarning")
def test_cli_on_a_cifar10_like_ada_tf_pickle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_weight_search(monkeypatch, tmp_path / "search")
    summary = check_info_convert_fid(
        write_pickle(tmp_path / "cifar10.pkl", *ada_tf_states(c_dim=3)), tmp_path
    )
    assert set(summary["tf_architectures"].values()) == {"stylegan2-ada-tf"}
