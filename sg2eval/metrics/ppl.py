"""Perceptual path length (StyleGAN journal Sec. 4.1, Eq. 2–3; StyleGAN2 Sec. 3 and Table 1).

For pairs of latents z0, z1 and a position t on the path between them, PPL measures the perceptual distance
between the images at t and t + epsilon, divided by epsilon ** 2 (the distance is quadratic), and averages it
over pairs after dropping the outliers below the 1st and above the 99th percentile. Every official detail is
in docs/facts.md, "PPL".

The pure steps (interpolation, crop, box downsampling, the percentile filter) are separate functions; the
sampling loop :func:`compute_ppl` works with any generator-like object and any distance callable:

- ``G.z_dim``, ``G.c_dim``, ``G.mapping(z, c) -> ws [N, L, D]``,
  ``G.synthesis(ws, noise_mode=..., noise_inputs={layer: [N, 1, h, w]}, force_fp32=True) -> img [N, C, H, W]``
  in about [-1, 1], and ``G.synthesis.noise_shapes() -> {layer: (h, w)}``;
- ``distance(img0, img1) -> Tensor[N]`` on images in [0, 255] (LPIPS, see ``sg2eval.detectors.lpips``).

Determinism: every random quantity of pair ``i`` (z0, z1, t, the class label) comes from its own CPU
generator seeded by ``(seed, i)``, and the noise shared by a group of ``noise_group`` pairs from one seeded by
``(seed, i // noise_group)`` on the compute device, so the random inputs do not depend on the batch size.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from sg2eval.errors import Sg2evalError
from sg2eval.metrics.states import ItemRows
from sg2eval.ppl_presets import PPLConfig
from sg2eval.progress import job_progress
from sg2eval.result import Result, Stopwatch, provenance
from sg2model.core.checks import require_finite
from sg2model.core.images import to_uint8

Distance = Callable[[Tensor, Tensor], Tensor]

_LATENT_STREAM = 0
_NOISE_STREAM = 1


#: Any object with ``z_dim``, ``c_dim``, ``mapping`` and ``synthesis`` as described in the module docstring
#: (an ``sg2model.Generator``, a StyleGAN (v1) generator, or a test double).
GeneratorLike = Any


# ----------------------------------------------------------------------------------------------------------
# Interpolation (StyleGAN journal Eq. 2 and 3).


def normalize(x: Tensor) -> Tensor:
    """Scale each row of ``x [..., D]`` to unit Euclidean length."""
    return x / x.square().sum(dim=-1, keepdim=True).sqrt()


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation on the unit sphere, inputs and output normalized (docs/facts.md, "PPL").

    a, b: [N, D]; t: [N, 1]. ``d = <a, b>``, ``p = t * acos(d)``, ``c = normalize(b - d a)``,
    result ``normalize(a cos p + c sin p)``: the point at angle ``t * angle(a, b)`` from ``a`` on the great
    circle through ``a`` and ``b`` (t may leave [0, 1]).
    """
    assert a.shape == b.shape and a.ndim == 2 and t.shape == (a.shape[0], 1)
    a, b = normalize(a), normalize(b)
    d = (a * b).sum(dim=-1, keepdim=True).clamp(-1, 1)  # [N, 1]
    p = t * torch.acos(d)  # [N, 1]
    c = normalize(b - d * a)  # [N, D]
    return normalize(a * torch.cos(p) + c * torch.sin(p))


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Linear interpolation ``a + t (b - a)``; ``t`` broadcasts against ``a`` and ``b``."""
    return a + (b - a) * t


# ----------------------------------------------------------------------------------------------------------
# Image preparation for the distance.


def face_crop(img: Tensor) -> Tensor:
    """The StyleGAN (v1) FFHQ face region: ``c = H // 8; img[:, :, 3c:7c, 2c:6c]``. img: [N, C, H, W]."""
    c = img.shape[2] // 8
    return img[:, :, 3 * c : 7 * c, 2 * c : 6 * c]


def box_downsample(img: Tensor, factor: int) -> Tensor:
    """Mean over non-overlapping ``factor x factor`` blocks (reshape then mean). img: [N, C, H, W]."""
    n, ch, h, w = img.shape
    if factor == 1:
        return img
    if h % factor or w % factor:
        raise Sg2evalError(
            f"cannot box-downsample {h}x{w} images by {factor}; use an image size that is a multiple of it."
        )
    return img.reshape(n, ch, h // factor, factor, w // factor, factor).mean(dim=(3, 5))


def downsample_to_256(img: Tensor) -> Tensor:
    """Box-downsample by ``H // 256`` when that is more than 1 (the VGG of LPIPS was built for 256x256)."""
    return box_downsample(img, max(img.shape[2] // 256, 1))


def prepare_images(img: Tensor, crop: bool, downsample_before_crop: bool = False) -> Tensor:
    """Generator output [N, C, H, W] in [-1, 1] → the distance's input in [0, 255].

    NVlabs order: crop, then downsample to 256 by ``H_cropped // 256``. With ``downsample_before_crop``
    the factor comes from the uncropped size, as in stylegan2-ada-pytorch (1024 with crop → 128x128).
    """
    if downsample_before_crop:
        img = downsample_to_256(img)
    if crop:
        img = face_crop(img)
    if not downsample_before_crop:
        img = downsample_to_256(img)
    return (img + 1) * (255 / 2)


# ----------------------------------------------------------------------------------------------------------
# Outlier filter and summary.


def percentile_mask(scores: np.ndarray, lo_pct: float = 1, hi_pct: float = 99) -> np.ndarray:
    """Which scores the official code keeps: ``percentile(lo, 'lower') <= d <= percentile(hi, 'higher')``."""
    lo = np.percentile(scores, lo_pct, method="lower")
    hi = np.percentile(scores, hi_pct, method="higher")
    return np.asarray((scores >= lo) & (scores <= hi))


@dataclass(frozen=True)
class PPLSummary:
    """The metric from per-pair scores: mean of the kept ones, their standard deviation and the mean's
    standard error (the sampling error of the estimate)."""

    ppl: float
    std: float
    sem: float
    kept: np.ndarray


def summarize(scores: np.ndarray) -> PPLSummary:
    """Apply :func:`percentile_mask` and average (docs/facts.md, "PPL", outliers)."""
    kept = percentile_mask(scores)
    inliers = scores[kept]
    std = float(np.std(inliers, ddof=1)) if inliers.size > 1 else 0.0
    return PPLSummary(float(np.mean(inliers)), std, std / float(np.sqrt(inliers.size)), kept)


def percentile_examples(
    scores: np.ndarray, count: int = 8, lo_pct: float = 10, hi_pct: float = 90, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of up to ``count`` random pairs with score <= the ``lo_pct`` percentile and of up to ``count``
    with score >= the ``hi_pct`` percentile (StyleGAN2 Figure 4: low vs high PPL examples), each sorted."""
    rng = np.random.default_rng(seed)
    low = np.flatnonzero(scores <= np.percentile(scores, lo_pct))
    high = np.flatnonzero(scores >= np.percentile(scores, hi_pct))
    pick = [np.sort(rng.choice(group, size=min(count, group.size), replace=False)) for group in (low, high)]
    return pick[0], pick[1]


# ----------------------------------------------------------------------------------------------------------
# Seeded per-pair draws.


def _rng(seed: int, stream: int, index: int, device: torch.device | str = "cpu") -> torch.Generator:
    state = np.random.SeedSequence(entropy=seed, spawn_key=(stream, index)).generate_state(2, np.uint32)
    return torch.Generator(device=device).manual_seed((int(state[0]) << 32) | int(state[1]))


@dataclass(frozen=True)
class PairDraws:
    """The random inputs of a set of pairs (on the CPU, float32): z0, z1 [N, z_dim], t [N], c [N, c_dim]."""

    z0: Tensor
    z1: Tensor
    t: Tensor
    c: Tensor


def draw_pairs(seed: int, indices: Sequence[int], z_dim: int, c_dim: int, full: bool) -> PairDraws:
    """z0, z1 ~ N(0, I), t ~ U[0, 1) when ``full`` (else 0) and a uniform one-hot label when ``c_dim > 0``,
    each pair from its own generator seeded by ``(seed, index)``."""
    z0, z1, t, c = [], [], [], []
    for index in indices:
        rng = _rng(seed, _LATENT_STREAM, index)
        z = torch.randn(2, z_dim, generator=rng)
        z0.append(z[0])
        z1.append(z[1])
        t.append(torch.rand(1, generator=rng) if full else torch.zeros(1))
        label = torch.zeros(c_dim)
        if c_dim > 0:
            label[int(torch.randint(c_dim, (1,), generator=rng))] = 1
        c.append(label)
    return PairDraws(torch.stack(z0), torch.stack(z1), torch.cat(t), torch.stack(c))


def draw_noise(
    seed: int,
    indices: Sequence[int],
    shapes: dict[str, tuple[int, int]],
    noise_group: int,
    device: torch.device | str = "cpu",
) -> dict[str, Tensor]:
    """Noise inputs {layer: [N, 1, h, w]} for the pairs ``indices``; pairs in the same group of
    ``noise_group`` consecutive indices get the same draw, from a generator seeded by ``(seed, group)``.

    The noise is drawn on ``device`` (a 1024x1024 network takes 2.8M values per pair: drawing them on the CPU
    would cost a GPU run more than the generator itself), so its values depend on the device type (CPU and
    CUDA generators differ); the latents, t and labels of :func:`draw_pairs` do not."""
    groups: dict[int, dict[str, Tensor]] = {}
    for group in sorted({index // noise_group for index in indices}):
        rng = _rng(seed, _NOISE_STREAM, group, device)
        groups[group] = {
            name: torch.randn(1, 1, *shape, generator=rng, device=device) for name, shape in shapes.items()
        }
    return {name: torch.cat([groups[index // noise_group][name] for index in indices]) for name in shapes}


# ----------------------------------------------------------------------------------------------------------
# Generation along the paths.


def _noise_shapes(G: GeneratorLike) -> dict[str, tuple[int, int]]:
    shapes = getattr(G.synthesis, "noise_shapes", None)
    return dict(shapes()) if callable(shapes) else {}


def path_images(
    G: GeneratorLike, config: PPLConfig, seed: int, indices: Sequence[int], device: torch.device
) -> tuple[Tensor, Tensor, Tensor]:
    """Images at t and t + epsilon for the pairs ``indices``, both ends rendered in one synthesis call
    with the same noise. Returns ``(img_t [N, C, H, W], img_t_eps [N, C, H, W], t [N])``, range [-1, 1]."""
    draws = draw_pairs(seed, indices, G.z_dim, G.c_dim, full=config.sampling == "full")
    z0, z1, c = draws.z0.to(device), draws.z1.to(device), draws.c.to(device)
    t = draws.t.to(device)[:, None]  # [N, 1]
    c2 = torch.cat([c, c])  # [2N, c_dim]
    if config.space == "w":
        w0, w1 = G.mapping(torch.cat([z0, z1]), c2).chunk(2)  # [N, L, D] each
        ws = torch.cat([lerp(w0, w1, t[:, :, None]), lerp(w0, w1, t[:, :, None] + config.epsilon)])
    else:
        zt = torch.cat([slerp(z0, z1, t), slerp(z0, z1, t + config.epsilon)])  # [2N, z_dim]
        ws = G.mapping(zt, c2)  # [2N, L, D]
    noise = draw_noise(seed, indices, _noise_shapes(G), config.noise_group, device)
    noise_inputs = {name: torch.cat([n, n]) for name, n in noise.items()}  # [2N, 1, h, w]
    img = G.synthesis(ws, noise_mode="random", noise_inputs=noise_inputs, force_fp32=True)
    img_t, img_t_eps = img.chunk(2)
    return img_t, img_t_eps, draws.t


def pair_scores(
    G: GeneratorLike,
    distance: Any,
    config: PPLConfig,
    seed: int,
    indices: Sequence[int],
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pair PPL scores ``d(img_t, img_t_eps) / epsilon ** 2`` (float64 [N]) and the t values [N]."""
    img_t, img_t_eps, t = path_images(G, config, seed, indices, device)
    x0 = prepare_images(img_t.float(), config.crop, config.downsample_before_crop)
    x1 = prepare_images(img_t_eps.float(), config.crop, config.downsample_before_crop)
    d = _distance_fn(distance)(x0, x1).reshape(-1).double() / config.epsilon**2
    return d.cpu().numpy(), t.double().numpy()


def _distance_fn(distance: Any) -> Distance:
    """A ``PerceptualDistance`` (its ``.distance`` method) or a plain callable."""
    fn = getattr(distance, "distance", distance)
    if not callable(fn):
        raise Sg2evalError(f"{distance!r} is not a distance; pass get_lpips(...) or a callable (x0, x1).")
    return fn


def _batches(items: range, batch_size: int) -> Iterator[range]:
    for start in range(items.start, items.stop, batch_size):
        yield range(start, min(start + batch_size, items.stop))


def describe_distance(distance: Any) -> dict[str, Any]:
    """Provenance of the distance: its ``describe()`` when it has one (``PerceptualDistance``), else the
    name, weights hash and input range it has."""
    if callable(getattr(distance, "describe", None)):
        info = dict(distance.describe())
    else:
        keys = ("weights_sha256", "input_range")
        info = {key: getattr(distance, key) for key in keys if hasattr(distance, key)}
    fallback = getattr(distance, "__qualname__", type(distance).__qualname__)
    info.setdefault("name", getattr(distance, "name", fallback))
    return info


@torch.no_grad()
def compute_ppl(
    network: Any,
    distance: Any,
    config: PPLConfig,
    seed: int = 0,
    batch_size: int = 4,
    device: torch.device | str | None = None,
    progress: bool = False,
    preset: str | None = None,
) -> Result:
    """Perceptual path length of a generator under ``distance`` (StyleGAN journal Eq. 2 for 'z', Eq. 3 for
    'w').

    ``network`` is anything :func:`sg2eval.network.open_network` takes (a network file, a generator module or
    generator-like object as described in the module docstring, a handle); ``distance`` is a
    ``PerceptualDistance`` from ``sg2eval.detectors.lpips.get_lpips`` or any callable
    ``(img0, img1) -> Tensor[N]`` on [0, 255] images.

    ``batch_size`` pairs (2 x ``batch_size`` images) go through the generator and the distance at a time;
    it changes speed and memory only, never the per-pair scores. Returns a :class:`Result` with
    ``values = {"ppl", "ppl_std", "ppl_sem"}`` and ``per_item = {"index", "t", "distance", "kept"}``.
    """
    from sg2eval.network import open_network

    if batch_size < 1:
        raise Sg2evalError(f"batch size must be >= 1, got {batch_size}; use e.g. 8.")
    from sg2eval.distributed import current_world, gather_rows, shard_range

    handle = open_network(network, device)
    clock = Stopwatch()
    world = current_world()

    def share() -> ItemRows:  # this process's pairs (all of them in one process)
        rows, items = ItemRows(), shard_range(config.num_samples)
        with job_progress(config.num_samples, "PPL", progress and world.is_main, "pairs") as advance:
            for indices in _batches(items, batch_size):
                d, t = pair_scores(handle.generator, distance, config, seed, indices, handle.device)
                rows.update(indices.start, distance=d, t=t)
                advance(len(indices) * world.size)
        return rows

    return ppl_result(gather_rows(share).arrays(config.num_samples), config, seed, preset, provenance(
        clock, handle.device, network=handle.describe(), lpips=describe_distance(distance),
        details={"batch_size": batch_size},
    ))


def ppl_result(
    pairs: dict[str, np.ndarray], config: PPLConfig, seed: int, preset: str | None, made: dict[str, Any]
) -> Result:
    """The PPL of per-pair ``distance`` and ``t`` arrays in pair order (:func:`summarize`)."""
    scores = pairs["distance"]
    require_finite(scores, "the perceptual distances of the PPL pairs",
                   "the network outputs NaN or Inf (broken weights?); check the file")
    summary = summarize(scores)
    params = {**config.to_dict(), "seed": seed, **({} if preset is None else {"preset": preset})}
    return Result(
        metric="ppl",
        values={"ppl": summary.ppl, "ppl_std": summary.std, "ppl_sem": summary.sem},
        params=params,
        provenance={**made, "num_kept": int(summary.kept.sum())},
        per_item={"index": np.arange(len(scores)), "t": pairs["t"], "distance": scores, "kept": summary.kept},
    )


def render_samples(
    network: Any,
    config: PPLConfig,
    seed: int,
    indices: Sequence[int],
    batch_size: int = 8,
    device: torch.device | str | None = None,
) -> np.ndarray:
    """The full-size images at t of the pairs ``indices`` as uint8 [N, C, H, W] (for Figure 4's grids),
    converted as the official code does (:func:`~sg2model.core.images.to_uint8`); ``network`` as for
    :func:`compute_ppl`."""
    from sg2eval.network import open_network

    handle = open_network(network, device)
    out = []
    with torch.no_grad():
        for start in range(0, len(indices), batch_size):
            img_t, _, _ = path_images(handle.generator, config, seed, indices[start : start + batch_size],
                                      handle.device)
            out.append(to_uint8(img_t.float()).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0, 0, 0), np.uint8)


def resolve_distance(lpips: Any, weights: str | os.PathLike[str] | None, device: torch.device | str) -> Any:
    """The perceptual distance named by ``lpips``: a ``get_lpips`` backend name ('auto', 'vgg16-nv',
    'lpips-vgg') is loaded from ``weights`` onto ``device``; a ``PerceptualDistance`` or any callable on
    [0, 255] images is returned as it is."""
    if not isinstance(lpips, str):
        return lpips
    from sg2eval.detectors.lpips import get_lpips
    from sg2eval.naming import weights_parameter

    with weights_parameter("lpips_weights"):  # what ppl, the projector and attribution call the file
        return get_lpips(lpips, weights=weights, device=device)


def ppl(
    network: Any,
    preset: str | None = None,
    *,
    space: str | None = None,
    sampling: str | None = None,
    num: int | None = None,
    epsilon: float | None = None,
    crop: bool | None = None,
    downsample_before_crop: bool | None = None,
    noise_group: int | None = None,
    lpips: Any = "auto",
    lpips_weights: str | None = None,
    seed: int = 0,
    batch_size: int = 4,
    device: torch.device | str | None = None,
    progress: bool = False,
) -> Result:
    """``sg2eval.ppl``: PPL of a network (a file, a generator module or a handle) for a preset (default
    ``ppl2_wend``, StyleGAN2 Table 1) with any of its fields overridden. ``lpips`` is a name for
    ``get_lpips`` ('auto', 'vgg16-nv', 'lpips-vgg', plug-ins), a ``PerceptualDistance`` or a callable on
    [0, 255] images. ``progress=True`` shows the pairs done and an estimate on standard error (a bar on a
    terminal, plain lines elsewhere; :mod:`sg2eval.progress`); off by default. Errors name these
    arguments (``lpips_weights='FILE'``).

    >>> sg2eval.ppl("network-snapshot.pkl", "ppl_wend", num=1000, progress=True)  # doctest: +SKIP
    """
    from sg2eval.network import open_network
    from sg2eval.ppl_presets import DEFAULT_PRESET, preset_config

    name = preset or DEFAULT_PRESET
    config = preset_config(
        name,
        space=space,
        sampling=sampling,
        num_samples=num,
        epsilon=epsilon,
        crop=crop,
        downsample_before_crop=downsample_before_crop,
        noise_group=noise_group,
    )
    handle = open_network(network, device)
    distance = resolve_distance(lpips, lpips_weights, handle.device)
    return compute_ppl(handle, distance, config, seed=seed, batch_size=batch_size, progress=progress,
                       preset=name)
