"""Projection of images into the latent space W (StyleGAN2 Section 5 and Appendix D; docs/facts.md,
"Projector").

For a target image x the projector looks for one latent ``w`` in W (not W+: the same w feeds every layer)
and the contents of every noise map ``n_i`` such that ``g(w, n) ~ x``, by minimizing

    L_total = D_LPIPS[x, g(w~, n)] + alpha * sum_ij L_ij                            (Appendix D)

with Adam. ``w`` starts at ``mu_w`` (the mean of 10 000 mapped latents), the noise maps start as N(0, I);
``w~ = w + N(0, I) * 0.05 * sigma_w * max(0, 1 - t / 0.75) ** 2`` during the first three quarters; the
learning rate ramps up linearly over the first 5% and down with a cosine over the last 25%. Both images are
box-downsampled to 256x256 before LPIPS when larger. ``L_ij`` are the squared one-pixel autocorrelations of
the noise maps and of their 2x2-average pyramids down to 8x8 (:func:`noise_regularization`); after every
step each noise map is renormalized to zero mean and unit variance.

Batching: any number of targets are optimized at once, each with its own w, noise maps and Adam state (the
parameters are ``[B, ...]`` tensors; Adam is elementwise and the loss is a sum of per-target terms, so each
target's update is the one it would get alone). Every random draw of a target (its initial noise maps, then
one w-noise vector per step) comes from its own generator seeded with that target's seed, so a target
projects to the same result in any batch, up to floating-point rounding of the batched convolutions.

The generator is anything with ``z_dim``, ``c_dim``, ``w_dim``, ``num_ws``, ``img_channels``,
``mapping(z, c)`` and ``synthesis(ws, noise_mode=, noise_inputs=, force_fp32=)`` plus
``synthesis.noise_shapes()`` (an ``sg2model.Generator``); the distance is any ``(img0, img1) -> [N]`` on
images in [0, 255], normally
``sg2eval.detectors.lpips.get_lpips(...).distance``.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import torch
from torch import Tensor

from sg2datasets.images import ImageFolder, decode_image, is_image_name, pil_to_chw
from sg2eval.errors import Sg2evalError
from sg2eval.metrics.ppl import downsample_to_256
from sg2model.core.allocator import reuse_freed_memory
from sg2model.core.checks import require_finite
from sg2model.core.errors import Sg2Error
from sg2model.core.images import to_uint8

Distance = Callable[[Tensor, Tensor], Tensor]
GeneratorLike = Any


@dataclass(frozen=True)
class ProjectorConfig:
    """Hyper-parameters of Appendix D; the defaults are the paper's (and NVlabs/stylegan2's ``Projector``).

    ``noise_reg_weight`` is alpha (0 turns the regularization off, as in Figure 18's ablation; the maps are
    still renormalized). ``pyramid_gain`` multiplies each 2x2 average of the regularization pyramid: 2 as
    the paper writes ("multiplying by 2 at each step to retain the expected unit variance"); NVIDIA's code
    averages without it (``pyramid_gain=1``), which weights the coarser levels 16 times less.
    """

    num_steps: int = 1000
    w_avg_samples: int = 10_000
    w_avg_seed: int = 123
    initial_lr: float = 0.1
    lr_rampup_length: float = 0.05
    lr_rampdown_length: float = 0.25
    initial_noise_factor: float = 0.05
    noise_ramp_length: float = 0.75
    noise_reg_weight: float = 1e5
    pyramid_gain: float = 2.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8

    def __post_init__(self) -> None:
        if self.num_steps < 1 or self.w_avg_samples < 2:
            raise Sg2evalError(
                f"the projector needs at least 1 step and 2 w samples, got num_steps={self.num_steps}, "
                f"w_avg_samples={self.w_avg_samples}"
            )

    def with_changes(self, **changes: Any) -> ProjectorConfig:
        """A copy with the fields in ``changes`` that are not None replaced (CLI overrides)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ProjectorConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


# ----------------------------------------------------------------------------------------------------------
# Schedules (Appendix D; docs/facts.md, "Projector").


def learning_rate(step: int, config: ProjectorConfig) -> float:
    """``t = step / num_steps``; ``r = min(1, (1 - t) / 0.25)``, ``r = 0.5 - 0.5 cos(pi r)``,
    ``r *= min(1, t / 0.05)``; ``lr = 0.1 r`` (0 at step 0)."""
    t = step / config.num_steps
    ramp = min(1.0, (1.0 - t) / config.lr_rampdown_length)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    ramp = ramp * min(1.0, t / config.lr_rampup_length)
    return config.initial_lr * ramp


def w_noise_scale(step: int, w_std: float, config: ProjectorConfig) -> float:
    """Standard deviation of the noise added to w: ``w_std * 0.05 * max(0, 1 - t / 0.75) ** 2``."""
    t = step / config.num_steps
    return w_std * config.initial_noise_factor * max(0.0, 1.0 - t / config.noise_ramp_length) ** 2


# ----------------------------------------------------------------------------------------------------------
# Noise maps.


def noise_regularization(maps: Sequence[Tensor], pyramid_gain: float = 2.0) -> Tensor:
    """Appendix D's ``sum_ij L_ij`` per target: ``[B]``.

    Each map ``[B, 1, r, r]`` and its pyramid (2x2 average times ``pyramid_gain``, down to 8x8; maps of 8x8
    and smaller have only level 0) contribute ``mean(n * roll(n, 1, x)) ** 2 + mean(n * roll(n, 1, y)) ** 2``
    with wrap-around, the means taken over each target's pixels.
    """
    assert maps, "no noise maps to regularize"
    total = torch.zeros(maps[0].shape[0], device=maps[0].device)
    for noise in maps:
        assert noise.ndim == 4 and noise.shape[1] == 1, noise.shape
        level = noise
        while True:
            horizontal = (level * level.roll(1, dims=3)).mean(dim=(1, 2, 3))  # [B]
            vertical = (level * level.roll(1, dims=2)).mean(dim=(1, 2, 3))  # [B]
            total = total + horizontal.square() + vertical.square()
            if level.shape[2] <= 8:
                break
            level = torch.nn.functional.avg_pool2d(level, 2) * pyramid_gain  # [B, 1, r/2, r/2]
    return total


@torch.no_grad()
def normalize_noise_(maps: Sequence[Tensor]) -> None:
    """In place: each target's map to zero mean and unit (population) variance."""
    for noise in maps:
        noise -= noise.mean(dim=(1, 2, 3), keepdim=True)
        noise *= noise.square().mean(dim=(1, 2, 3), keepdim=True).rsqrt()


# ----------------------------------------------------------------------------------------------------------
# W statistics.


@dataclass(frozen=True)
class WStats:
    """``mu_w`` ``[w_dim]`` and the scalar ``sigma_w = sqrt(sum_k ||w_k - mu_w||^2 / N)`` (Appendix D)."""

    w_avg: Tensor
    w_std: float


@torch.no_grad()
def compute_w_stats(
    G: GeneratorLike, config: ProjectorConfig, device: str | torch.device = "cpu", chunk: int = 1000
) -> WStats:
    """Map ``z = RandomState(w_avg_seed).randn(w_avg_samples, z_dim)`` (no truncation) and take W's center
    and scale in float64."""
    if int(getattr(G, "c_dim", 0)):
        raise Sg2evalError(
            "projection is defined for unconditional networks (Appendix D); this network takes class labels"
        )
    z_all = np.random.RandomState(config.w_avg_seed).randn(config.w_avg_samples, int(G.z_dim))
    ws = []
    for start in range(0, len(z_all), chunk):
        z = torch.from_numpy(z_all[start : start + chunk]).to(device, torch.float32)
        ws.append(G.mapping(z, None)[:, 0].double().cpu())  # [n, w_dim]
    w = torch.cat(ws)  # [N, w_dim]
    w_avg = w.mean(dim=0)
    w_std = float((w - w_avg).square().sum().div(len(w)).sqrt())
    return WStats(w_avg.float(), w_std)


# ----------------------------------------------------------------------------------------------------------
# The optimizer.


@dataclass(frozen=True)
class StepReport:
    """What a step callback sees: step index, learning rate, and per-target loss, LPIPS and the image
    synthesized in this step (with the noisy w~) as uint8 ``[B, C, H, W]``, and the batch's target seeds
    (which targets these are)."""

    step: int
    lr: float
    loss: np.ndarray
    distance: np.ndarray
    images: Tensor
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class Projection:
    """Per target: ``w [B, w_dim]``, ``noise {layer: [B, 1, r, r]}``, re-synthesized uint8 ``images`` and the
    final ``distance [B]`` between target and re-synthesis (noise-free w); ``loss_history`` and
    ``distance_history`` ``[num_steps, B]`` are the values of each step."""

    w: np.ndarray
    noise: dict[str, np.ndarray]
    images: np.ndarray
    distance: np.ndarray
    seeds: tuple[int, ...]
    loss_history: np.ndarray
    distance_history: np.ndarray

    @staticmethod
    def concat(parts: Sequence[Projection]) -> Projection:
        """Join projections of consecutive batches along the target axis."""
        return Projection(
            np.concatenate([p.w for p in parts]),
            {k: np.concatenate([p.noise[k] for p in parts]) for k in parts[0].noise},
            np.concatenate([p.images for p in parts]),
            np.concatenate([p.distance for p in parts]),
            tuple(s for p in parts for s in p.seeds),
            np.concatenate([p.loss_history for p in parts], axis=1),
            np.concatenate([p.distance_history for p in parts], axis=1),
        )

    def select(self, index: int) -> Projection:
        """The projection of target ``index`` alone (batch of one)."""
        keep = slice(index, index + 1)
        return Projection(
            self.w[keep],
            {k: v[keep] for k, v in self.noise.items()},
            self.images[keep],
            self.distance[keep],
            (self.seeds[index],),
            self.loss_history[:, keep],
            self.distance_history[:, keep],
        )


def output_shape(G: GeneratorLike) -> tuple[int, int, int]:
    """``(C, H, W)`` of the generator's images (``img_height`` crops rows, docs/networks.md)."""
    res = int(G.img_resolution)
    height = getattr(G.synthesis, "img_height", None) or res
    return int(G.img_channels), int(height), res


def to_distance_input(img: Tensor) -> Tensor:
    """Images in [0, 255] ``[B, C, H, W]`` -> the distance's input: box-downsampled to 256 when larger,
    grayscale repeated to RGB."""
    img = downsample_to_256(img)
    return img.repeat(1, 3, 1, 1) if img.shape[1] == 1 else img


class Projector:
    """Appendix D's optimizer for one generator and one distance (see the module docstring)."""

    def __init__(
        self,
        G: GeneratorLike,
        distance: Distance,
        config: ProjectorConfig | None = None,
        device: str | torch.device = "cpu",
        w_stats: WStats | None = None,
    ) -> None:
        self.G = G
        self.distance = distance
        self.config = config or ProjectorConfig()
        self.device = torch.device(device)
        self.noise_shapes: dict[str, tuple[int, int]] = dict(G.synthesis.noise_shapes())
        self.w_stats = w_stats or compute_w_stats(G, self.config, self.device)
        # StyleGAN2 synthesis: the non-grouped form of the modulated convolution (same math); on the CPU
        # the grouped one is slower per target in batches (measured in benchmarks/bench_projector.py).
        accepts = inspect.signature(G.synthesis.forward).parameters
        self.synthesis_kwargs = {"fused_modconv": False} if "fused_modconv" in accepts else {}
        if self.device.type == "cpu":
            reuse_freed_memory()  # batches of targets without page faults (sg2model/core/allocator.py)

    def synthesize(self, w: Tensor, noise: dict[str, Tensor]) -> Tensor:
        """``g(w, n)``: w ``[B, w_dim]`` fed to every layer; images ``[B, C, H, W]`` in about [-1, 1]."""
        ws = w.unsqueeze(1).expand(-1, int(self.G.num_ws), -1)  # [B, num_ws, w_dim]
        return self.G.synthesis(
            ws, noise_mode="const", noise_inputs=noise, force_fp32=True, **self.synthesis_kwargs
        )

    def project(
        self,
        targets: np.ndarray | Tensor,
        seeds: Sequence[int] | None = None,
        callback: Callable[[StepReport], None] | None = None,
    ) -> Projection:
        """Project uint8 targets ``[B, C, H, W]`` (the generator's shape); target i uses ``seeds[i]``
        (default ``i``) for its random draws."""
        cfg, dev = self.config, self.device
        target = torch.as_tensor(np.asarray(targets)).to(dev)
        if target.ndim != 4 or tuple(target.shape[1:]) != output_shape(self.G):
            raise Sg2evalError(
                f"targets must be [B, C, H, W] = [B, {', '.join(map(str, output_shape(self.G)))}], "
                f"got {list(target.shape)}; load them with load_targets (it resizes or refuses)"
            )
        batch = target.shape[0]
        seeds = tuple(int(s) for s in (range(batch) if seeds is None else seeds))
        if len(seeds) != batch:
            raise Sg2evalError(f"got {len(seeds)} seeds for {batch} targets; give one seed per target")
        target_in = to_distance_input(target.to(torch.float32))  # [B, 3, <=256, <=256] in [0, 255]

        gens = [torch.Generator().manual_seed(s) for s in seeds]
        w_dim = int(self.G.w_dim)
        w = self.w_stats.w_avg.to(dev).unsqueeze(0).repeat(batch, 1).requires_grad_(True)  # [B, w_dim]
        noise = {
            name: torch.cat([torch.randn(1, 1, h, wd, generator=g) for g in gens]).to(dev).requires_grad_()
            for name, (h, wd) in self.noise_shapes.items()
        }  # {layer: [B, 1, h, w]}, drawn per target in noise_shapes order
        params = [w, *noise.values()]
        opt = torch.optim.Adam(params, betas=(cfg.adam_beta1, cfg.adam_beta2), eps=cfg.adam_eps)
        loss_hist = np.zeros((cfg.num_steps, batch), np.float32)
        dist_hist = np.zeros((cfg.num_steps, batch), np.float32)

        for step in range(cfg.num_steps):
            lr = learning_rate(step, cfg)
            for group in opt.param_groups:
                group["lr"] = lr
            draws = torch.stack([torch.randn(w_dim, generator=g) for g in gens]).to(dev)  # [B, w_dim]
            w_tilde = w + draws * w_noise_scale(step, self.w_stats.w_std, cfg)
            synth = self.synthesize(w_tilde, noise)  # [B, C, H, W]
            dist = self.distance(target_in, to_distance_input((synth + 1) * (255 / 2)))  # [B]
            require_finite(
                dist,
                f"the LPIPS distances of projection step {step}",
                "the network outputs NaN "
                "or Inf (broken weights?), or the settings diverge (lower the learning rate)",
            )
            loss = dist
            if noise:  # networks without noise inputs have nothing to regularize
                loss = loss + cfg.noise_reg_weight * noise_regularization(
                    list(noise.values()), cfg.pyramid_gain
                )
            grads = torch.autograd.grad(loss.sum(), params)
            for p, g in zip(params, grads, strict=True):
                p.grad = g
            opt.step()
            normalize_noise_(list(noise.values()))
            loss_hist[step] = loss.detach().cpu().numpy()
            dist_hist[step] = dist.detach().cpu().numpy()
            if callback is not None:
                images = to_uint8(synth.detach())
                callback(StepReport(step, lr, loss_hist[step], dist_hist[step], images, seeds))

        with torch.no_grad():
            final = self.synthesize(w, noise)
            final_dist = self.distance(target_in, to_distance_input((final + 1) * (255 / 2)))
        return Projection(
            w=w.detach().cpu().numpy(),
            noise={k: v.detach().cpu().numpy() for k, v in noise.items()},
            images=to_uint8(final).cpu().numpy(),
            distance=final_dist.cpu().numpy().astype(np.float64),
            seeds=seeds,
            loss_history=loss_hist,
            distance_history=dist_hist,
        )

    def project_many(
        self,
        targets: np.ndarray,
        seeds: Sequence[int],
        batch_size: int = 8,
        callback: Callable[[StepReport], None] | None = None,
    ) -> Projection:
        """:meth:`project` over consecutive batches of ``batch_size`` targets (same result as one batch); in
        a distributed run each process projects its share of the targets (:mod:`sg2eval.distributed`; only
        rank 0 calls ``callback``) and every process gets all projections, in target order."""
        from sg2eval.distributed import collect, current_world, shard_range

        if batch_size < 1:
            raise Sg2evalError(f"the batch size must be at least 1, got {batch_size}")
        if len(targets) != len(seeds):
            raise Sg2evalError(f"got {len(seeds)} seeds for {len(targets)} targets; give one seed per target")
        mine = shard_range(len(targets))
        report = callback if current_world().is_main else None

        def share() -> Projection | None:
            parts = []
            for start in range(mine.start, mine.stop, batch_size):
                stop = min(start + batch_size, mine.stop)
                parts.append(self.project(targets[start:stop], seeds[start:stop], report))
            return Projection.concat(parts) if parts else None

        return Projection.concat([part for part in collect(share) if part is not None])


# ----------------------------------------------------------------------------------------------------------
# Target images from files.


def expand_targets(paths: Sequence[str | Path]) -> list[Path]:
    """Image files as given, folders replaced by their images (recursive, sorted); missing paths raise."""
    files: list[Path] = []
    for spec in paths:
        path = Path(spec)
        if path.is_dir():
            files.extend(path / name for name in ImageFolder(path).names)
        elif path.is_file():
            files.append(path)
        else:
            raise Sg2evalError(f"target {path} does not exist; give image files (png/jpg/webp) or folders")
    return files


def read_target(path: Path, shape: tuple[int, int, int], resize: bool) -> np.ndarray:
    """One image file -> uint8 ``[C, H, W]`` of ``shape``.

    Grayscale files feed RGB networks as three equal channels. A file of another size is centre-cropped to
    the network's aspect ratio and resized with Lanczos (a warning names it) when ``resize``; else refused.
    """
    channels, height, width = shape
    if not is_image_name(path.name):
        warnings.warn(f"{path} has no image suffix; trying to read it anyway", stacklevel=2)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise Sg2evalError(f"{path} cannot be read ({error.strerror})") from error
    try:
        pixels = decode_image(data, str(path))  # [C', H', W']; damaged, deep or oversized files refused
    except Sg2Error as error:
        raise Sg2evalError(str(error)) from error
    if pixels.shape[1:] != (height, width):
        if not resize:
            raise Sg2evalError(
                f"{path} is {pixels.shape[2]}x{pixels.shape[1]} but the network makes "
                f"{width}x{height} images; resize it first or allow resizing (--resize)"
            )
        warnings.warn(
            f"{path} is {pixels.shape[2]}x{pixels.shape[1]}; centre-cropped and resized to "
            f"{width}x{height} (a resized image is not what the network generated)",
            stacklevel=2,
        )
        pixels = fit_pixels(pixels, height, width)
    if pixels.shape[0] == 1 and channels == 3:
        pixels = pixels.repeat(3, axis=0)
    elif pixels.shape[0] == 3 and channels == 1:
        raise Sg2evalError(f"{path} is a colour image but the network makes grayscale images; convert it")
    return pixels


def fit_pixels(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """uint8 ``[C, H', W']`` -> ``[C, height, width]``: centre crop to the aspect ratio, Lanczos resize."""
    image = PIL.Image.fromarray(pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0))
    w0, h0 = image.size
    crop_w, crop_h = min(w0, round(h0 * width / height)), min(h0, round(w0 * height / width))
    left, top = (w0 - crop_w) // 2, (h0 - crop_h) // 2
    image = image.crop((left, top, left + crop_w, top + crop_h))
    return pil_to_chw(image.resize((width, height), PIL.Image.Resampling.LANCZOS), "resized image")


def load_targets(
    paths: Sequence[str | Path], shape: tuple[int, int, int], resize: bool = True
) -> tuple[list[Path], np.ndarray]:
    """The files named by ``paths`` (folders expanded) and their pixels, uint8 ``[N, C, H, W]``."""
    files = expand_targets(paths)
    if not files:
        raise Sg2evalError("no target images given; name image files or folders holding images")
    return files, np.stack([read_target(f, shape, resize) for f in files])
