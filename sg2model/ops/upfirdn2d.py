"""Upsample, pad, FIR-filter and downsample batches of 2-D images (the resampling of StyleGAN2).

Definition (docs/facts.md, "Ops", the stylegan2-ada-pytorch semantics, close to ``scipy.signal.upfirdn``), per
channel: 1. insert ``up - 1`` zeros after each pixel; 2. pad with zeros (negative padding crops), padding
given on the upsampled image; 3. convolve with the FIR filter ``f``, keeping only outputs whose footprint
lies inside the padded image (``flip_filter=True`` correlates instead); 4. keep every ``down``-th pixel.
``gain`` scales the result: a 2-D filter is multiplied by ``gain``, a separable 1-D filter by
``sqrt(gain)`` in each of its two passes.

The reference below is built from reshape, ``F.pad`` and depthwise ``conv2d`` calls, so autograd gives
gradients of every order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from sg2model.core.errors import Sg2Error
from sg2model.ops import registry

IntOrPair = int | Sequence[int]


def parse_scaling(scaling: IntOrPair, name: str = "up/down") -> tuple[int, int]:
    """``int`` or ``[x, y]`` -> ``(sx, sy)``, both at least 1."""
    values = [scaling, scaling] if isinstance(scaling, int) else list(scaling)
    if len(values) != 2 or not all(isinstance(v, int) and v >= 1 for v in values):
        raise Sg2Error(f"{name}={scaling!r}; give a positive int or a pair [x, y] of positive ints")
    return values[0], values[1]


def parse_padding(padding: IntOrPair) -> tuple[int, int, int, int]:
    """``int``, ``[x, y]`` or ``[x0, x1, y0, y1]`` -> ``(x0, x1, y0, y1)``."""
    values = [padding] * 4 if isinstance(padding, int) else list(padding)
    if len(values) == 2:
        values = [values[0], values[0], values[1], values[1]]
    if len(values) != 4 or not all(isinstance(v, int) for v in values):
        raise Sg2Error(f"padding={padding!r}; give an int, [x, y] or [x0, x1, y0, y1] of ints")
    return values[0], values[1], values[2], values[3]


def filter_size(f: torch.Tensor | None) -> tuple[int, int]:
    """``(width, height)`` of a filter made by :func:`setup_filter`; ``(1, 1)`` for ``None``."""
    if f is None:
        return 1, 1
    if not isinstance(f, torch.Tensor) or f.ndim not in (1, 2) or f.numel() == 0:
        raise Sg2Error("the FIR filter must be a non-empty 1-D or 2-D tensor; use setup_filter()")
    return int(f.shape[-1]), int(f.shape[0])


def setup_filter(
    f: Any,
    device: torch.device | str = "cpu",
    normalize: bool = True,
    flip_filter: bool = False,
    gain: float = 1.0,
    separable: bool | None = None,
) -> torch.Tensor:
    """Float32 FIR filter for :func:`upfirdn2d` from a list, array or tensor (``None`` = identity).

    A 1-D list of taps becomes their outer product (``[1, 3, 3, 1]`` -> 4x4 / 64 after normalizing)
    unless ``separable``; by default 1-D filters of 8 or more taps stay separable. ``normalize`` makes
    the taps sum to 1 (DC gain 1); ``gain`` multiplies the overall signal magnitude.
    Returns ``[fh, fw]`` or, when separable, ``[taps]``.
    """
    t = torch.as_tensor(1.0 if f is None else f, dtype=torch.float32)
    if t.ndim == 0:
        t = t.reshape(1)
    if t.ndim > 2 or t.numel() == 0:
        raise Sg2Error(f"FIR filter of shape {list(t.shape)}; give a non-empty list of taps or 2-D array")
    if separable is None:
        separable = t.ndim == 1 and t.numel() >= 8
    if separable and t.ndim != 1:
        raise Sg2Error("separable=True needs a 1-D list of taps; pass separable=False for a 2-D filter")
    if t.ndim == 1 and not separable:
        t = torch.outer(t, t)
    if normalize:
        total = t.sum()
        if total == 0:
            raise Sg2Error("the FIR taps sum to 0 and cannot be normalized; pass normalize=False")
        t = t / total
    if flip_filter:
        t = t.flip(list(range(t.ndim)))
    t = t * (gain ** (t.ndim / 2))
    return t.to(device)


def upfirdn2d(
    x: torch.Tensor,  # [N, C, H, W]
    f: torch.Tensor | None,  # [fh, fw], [taps] (separable) or None (identity)
    up: IntOrPair = 1,  # zeros inserted: up - 1 after each pixel, int or [x, y]
    down: IntOrPair = 1,  # keep every down-th output pixel, int or [x, y]
    padding: IntOrPair = 0,  # on the upsampled image: int, [x, y] or [x0, x1, y0, y1]; negative crops
    flip_filter: bool = False,  # False = convolution, True = correlation
    gain: float = 1.0,  # overall scaling of the signal magnitude
    impl: str = "auto",  # 'auto' | 'ref' | 'cuda', see sg2model.ops.registry
) -> torch.Tensor:  # [N, C, (H*upy + py0 + py1 - fh) // downy + 1, same for x]
    """Pad, upsample, FIR-filter and downsample (see the module docstring for the exact definition)."""
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise Sg2Error("upfirdn2d needs a 4-D tensor [N, C, H, W]")
    upx, upy = parse_scaling(up, "up")
    downx, downy = parse_scaling(down, "down")
    px0, px1, py0, py1 = parse_padding(padding)
    fw, fh = filter_size(f)
    padded_w = x.shape[3] * upx + px0 + px1
    padded_h = x.shape[2] * upy + py0 + py1
    if padded_w < fw or padded_h < fh:
        raise Sg2Error(
            f"upfirdn2d: padded image {padded_h}x{padded_w} is smaller than the {fh}x{fw} filter; "
            "increase the padding or the input size"
        )
    if registry.resolve("upfirdn2d", impl, x) == "cuda":
        kernel = registry.cuda_kernel("upfirdn2d")
        return kernel(x, f, up=up, down=down, padding=padding, flip_filter=flip_filter, gain=gain)

    n, c, h, w = x.shape
    # 1. Zero insertion: [N, C, H, 1, W, 1] padded to [N, C, H, upy, W, upx].
    if upx > 1 or upy > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, upx - 1, 0, 0, 0, upy - 1])
        x = x.reshape(n, c, h * upy, w * upx)
    # 2. Zero padding, then cropping for negative amounts (in this order, so a crop may eat padding).
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0) : x.shape[2] - max(-py1, 0), max(-px0, 0) : x.shape[3] - max(-px1, 0)]
    # 3. + 4. FIR filter as a depthwise conv; its stride does the decimation.
    taps = torch.ones([1, 1]) if f is None else f
    taps = taps.to(device=x.device, dtype=x.dtype) * (gain ** (taps.ndim / 2))
    if not flip_filter:
        taps = taps.flip(list(range(taps.ndim)))  # conv2d correlates; flipped taps make it a convolution
    # One group per channel, the same taps in each: on the CPU the backward passes are 17x (first order) and
    # 4x (second order) faster than with a one-channel conv over N*C images, with the same numbers
    # (benchmarks/bench_upfirdn2d_ref.py).
    if taps.ndim == 2:
        return _depthwise(x, taps[None, None], (downy, downx))
    x = _depthwise(x, taps[None, None, None, :], (1, downx))
    return _depthwise(x, taps[None, None, :, None], (downy, 1))


def _depthwise(x: torch.Tensor, taps: torch.Tensor, stride: tuple[int, int]) -> torch.Tensor:
    """``x [N, C, H, W]`` correlated with the one filter ``taps [1, 1, fh, fw]`` in each of its C channels."""
    channels = x.shape[1]
    weight = taps.expand(channels, 1, taps.shape[2], taps.shape[3])
    return F.conv2d(x, weight, stride=stride, groups=channels)


def filter2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    padding: IntOrPair = 0,
    flip_filter: bool = False,
    gain: float = 1.0,
    impl: str = "auto",
) -> torch.Tensor:
    """FIR-filter keeping the size [H, W]; ``padding`` is extra padding (negative crops) on the output."""
    px0, px1, py0, py1 = parse_padding(padding)
    fw, fh = filter_size(f)
    pad = [px0 + fw // 2, px1 + (fw - 1) // 2, py0 + fh // 2, py1 + (fh - 1) // 2]
    return upfirdn2d(x, f, padding=pad, flip_filter=flip_filter, gain=gain, impl=impl)


def upsample2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: IntOrPair = 2,
    padding: IntOrPair = 0,
    flip_filter: bool = False,
    gain: float = 1.0,
    impl: str = "auto",
) -> torch.Tensor:
    """Upsample to [H*up, W*up] with the FIR filter; gain ``up**2`` keeps the DC level
    (docs/facts.md, "Ops")."""
    upx, upy = parse_scaling(up, "up")
    px0, px1, py0, py1 = parse_padding(padding)
    fw, fh = filter_size(f)
    pad = [px0 + (fw + upx - 1) // 2, px1 + (fw - upx) // 2, py0 + (fh + upy - 1) // 2, py1 + (fh - upy) // 2]
    return upfirdn2d(x, f, up=up, padding=pad, flip_filter=flip_filter, gain=gain * upx * upy, impl=impl)


def downsample2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    down: IntOrPair = 2,
    padding: IntOrPair = 0,
    flip_filter: bool = False,
    gain: float = 1.0,
    impl: str = "auto",
) -> torch.Tensor:
    """Downsample to [H/down, W/down] after the FIR filter; ``padding`` is extra padding on the input."""
    downx, downy = parse_scaling(down, "down")
    px0, px1, py0, py1 = parse_padding(padding)
    fw, fh = filter_size(f)
    pad = [
        px0 + (fw - downx + 1) // 2,
        px1 + (fw - downx) // 2,
        py0 + (fh - downy + 1) // 2,
        py1 + (fh - downy) // 2,
    ]
    return upfirdn2d(x, f, down=down, padding=pad, flip_filter=flip_filter, gain=gain, impl=impl)
