"""CUDA upfirdn2d behind :func:`sg2model.ops.upfirdn2d.upfirdn2d` (same signature minus ``impl``).

docs/facts.md, "Ops": the gradient of upfirdn2d is another upfirdn2d with up and down swapped and the filter
flipped, so the autograd function below calls itself in its backward and gradients of every order follow.
The filter is treated as a constant (no gradient), as in StyleGAN2 where it is a fixed buffer.
"""

from __future__ import annotations

from typing import Any

import torch

from cuda_ops import build
from sg2model.core.errors import Sg2Error

# (upx, upy, downx, downy, px0, px1, py0, py1)
Geometry = tuple[int, int, int, int, int, int, int, int]


def output_size(in_h: int, in_w: int, fh: int, fw: int, geometry: Geometry) -> tuple[int, int]:
    """``(out_h, out_w)`` of upfirdn2d: ``(in * up + pad0 + pad1 - taps) // down + 1`` per axis."""
    upx, upy, downx, downy, px0, px1, py0, py1 = geometry
    return (in_h * upy + py0 + py1 - fh) // downy + 1, (in_w * upx + px0 + px1 - fw) // downx + 1


def transposed_geometry(in_h: int, in_w: int, fh: int, fw: int, geometry: Geometry) -> Geometry:
    """Geometry of the adjoint op, which maps the output gradient back to the input's size.

    Zero insertion by ``up`` becomes decimation and vice versa; the leading padding becomes ``taps - 1 -
    pad0``, and the trailing padding is whatever makes the result exactly ``in_h x in_w``.
    """
    upx, upy, downx, downy, px0, _, py0, _ = geometry
    out_h, out_w = output_size(in_h, in_w, fh, fw, geometry)
    return (
        downx,
        downy,
        upx,
        upy,
        fw - 1 - px0,
        in_w * upx - out_w * downx + px0 - upx + 1,
        fh - 1 - py0,
        in_h * upy - out_h * downy + py0 - upy + 1,
    )


def _run_kernel(x: torch.Tensor, taps: torch.Tensor, geometry: Geometry) -> torch.Tensor:
    """``taps``: correlation taps [fh, fw] with gain and orientation applied."""
    ext = build.load()
    if ext is None:
        raise Sg2Error("the CUDA upfirdn2d kernel is not available; use impl='ref'")
    upx, upy, downx, downy, px0, _, py0, _ = geometry
    fh, fw = taps.shape
    out_h, out_w = output_size(x.shape[2], x.shape[3], fh, fw, geometry)
    taps = taps.to(device=x.device, dtype=torch.float64 if x.dtype == torch.float64 else torch.float32)
    if not (x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last)):
        x = x.contiguous()
    return ext.upfirdn2d(x, taps.contiguous(), upx, upy, downx, downy, px0, py0, out_h, out_w)


class _Upfirdn2d(torch.autograd.Function):
    """Differentiable (to any order) upfirdn2d with correlation taps ``taps``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, taps: torch.Tensor, geometry: Geometry) -> torch.Tensor:
        ctx.save_for_backward(taps)
        ctx.in_size = (x.shape[2], x.shape[3])
        ctx.geometry = geometry
        return _run_kernel(x, taps, geometry)

    @staticmethod
    def backward(ctx: Any, dy: torch.Tensor) -> tuple[torch.Tensor | None, None, None]:
        (taps,) = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None
        in_h, in_w = ctx.in_size
        back = transposed_geometry(in_h, in_w, taps.shape[0], taps.shape[1], ctx.geometry)
        return _Upfirdn2d.apply(dy, taps.flip([0, 1]), back), None, None


def correlation_taps(f: torch.Tensor | None, flip_filter: bool, gain: float) -> torch.Tensor:
    """2-D taps for a correlation: a 1-D (separable) filter becomes its outer product (the two passes of
    the reference at ``sqrt(gain)`` each equal one 2-D pass at ``gain``); a convolution flips the taps."""
    taps = torch.ones([1, 1]) if f is None else f.detach()
    if taps.ndim == 1:
        taps = torch.outer(taps, taps)
    if not flip_filter:
        taps = taps.flip([0, 1])
    return taps * gain


def upfirdn2d_cuda(
    x: torch.Tensor,  # [N, C, H, W] on a CUDA device, NCHW or channels-last
    f: torch.Tensor | None,  # [fh, fw], [taps] (separable) or None (identity)
    up: Any = 1,
    down: Any = 1,
    padding: Any = 0,
    flip_filter: bool = False,
    gain: float = 1.0,
) -> torch.Tensor:  # [N, C, out_h, out_w], x's memory layout
    """The CUDA kernel registered for ``upfirdn2d``; the reference runs when the extension cannot be built."""
    from sg2model.ops.upfirdn2d import parse_padding, parse_scaling, upfirdn2d

    if build.extension() is None or not x.is_cuda:
        return upfirdn2d(
            x, f, up=up, down=down, padding=padding, flip_filter=flip_filter, gain=gain, impl="ref"
        )
    geometry: Geometry = (*parse_scaling(up, "up"), *parse_scaling(down, "down"), *parse_padding(padding))
    return _Upfirdn2d.apply(x, correlation_taps(f, flip_filter, gain), geometry)
