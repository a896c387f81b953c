"""2-D convolution with optional FIR up- or downsampling, padding applied once at the start.

Semantics of stylegan2-ada-pytorch (docs/facts.md, "Ops"): the result equals
``zero-insert(up) -> pad -> FIR(f, gain up**2) -> conv(w) -> FIR(f) and keep every down-th pixel``
(the FIR steps only where ``up > 1`` / ``down > 1``). It is computed the cheaper ways the official code
uses, which agree up to float rounding: upsampling as a strided transposed convolution followed by the
FIR filter (the fused up-sampling conv of StyleGAN2), downsampling as the FIR filter followed by a strided
convolution, 1x1 kernels resampled on the smaller side.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sg2model.core.errors import Sg2Error
from sg2model.ops.upfirdn2d import IntOrPair, filter_size, parse_padding, upfirdn2d


def _conv(
    x: torch.Tensor,
    w: torch.Tensor,
    stride: int = 1,
    padding: tuple[int, int] = (0, 0),
    groups: int = 1,
    transpose: bool = False,
    flip_weight: bool = True,
) -> torch.Tensor:
    """``conv2d`` (a correlation) or ``conv_transpose2d``; ``flip_weight=False`` flips the kernel first."""
    if not flip_weight and (w.shape[2] > 1 or w.shape[3] > 1):
        w = w.flip([2, 3])
    if transpose:
        return F.conv_transpose2d(x, w, stride=stride, padding=padding, groups=groups)
    return F.conv2d(x, w, stride=stride, padding=padding, groups=groups)


def _check(x: torch.Tensor, w: torch.Tensor, up: int, down: int, groups: int) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise Sg2Error("conv2d_resample needs x as a 4-D tensor [N, C, H, W]")
    if not isinstance(w, torch.Tensor) or w.ndim != 4 or w.dtype != x.dtype:
        raise Sg2Error("conv2d_resample needs w as a 4-D tensor [O, C/groups, kh, kw] of x's dtype")
    for name, value in (("up", up), ("down", down), ("groups", groups)):
        if not isinstance(value, int) or value < 1:
            raise Sg2Error(f"conv2d_resample: {name}={value!r}; give a positive int")
    if x.shape[1] != w.shape[1] * groups or w.shape[0] % groups != 0:
        raise Sg2Error(
            f"conv2d_resample: x has {x.shape[1]} channels, w is {list(w.shape)} with groups={groups}; "
            "need C == w.shape[1] * groups and O divisible by groups"
        )


def conv2d_resample(
    x: torch.Tensor,  # [N, C, H, W]
    w: torch.Tensor,  # [O, C // groups, kh, kw]
    f: torch.Tensor | None = None,  # FIR filter from setup_filter(), None = identity
    up: int = 1,  # integer upsampling factor
    down: int = 1,  # integer downsampling factor
    padding: IntOrPair = 0,  # on the upsampled image: int, [x, y] or [x0, x1, y0, y1]
    groups: int = 1,  # split the input channels into this many groups
    flip_weight: bool = True,  # True = correlation (as F.conv2d), False = convolution
    flip_filter: bool = False,  # False = convolution with f, True = correlation
) -> torch.Tensor:  # [N, O, H', W']
    """Convolve ``x`` with ``w``, upsampling by ``up`` before and/or downsampling by ``down`` after."""
    _check(x, w, up, down, groups)
    out_channels, in_per_group, kh, kw = (int(s) for s in w.shape)
    fw, fh = filter_size(f)
    px0, px1, py0, py1 = parse_padding(padding)

    # Padding that keeps the resampled size a multiple / fraction of the input (as upsample2d, downsample2d).
    if up > 1:
        px0, px1 = px0 + (fw + up - 1) // 2, px1 + (fw - up) // 2
        py0, py1 = py0 + (fh + up - 1) // 2, py1 + (fh - up) // 2
    if down > 1:
        px0, px1 = px0 + (fw - down + 1) // 2, px1 + (fw - down) // 2
        py0, py1 = py0 + (fh - down + 1) // 2, py1 + (fh - down) // 2
    pad = [px0, px1, py0, py1]

    if kw == 1 and kh == 1 and up == 1 and down > 1:
        # A 1x1 kernel commutes with the per-channel FIR: downsample first, convolve the small image.
        x = upfirdn2d(x, f, down=down, padding=pad, flip_filter=flip_filter)
        return _conv(x, w, groups=groups, flip_weight=flip_weight)
    if kw == 1 and kh == 1 and up > 1 and down == 1:
        # Convolve the small image, then upsample.
        x = _conv(x, w, groups=groups, flip_weight=flip_weight)
        return upfirdn2d(x, f, up=up, padding=pad, gain=up**2, flip_filter=flip_filter)
    if up == 1 and down > 1:
        # FIR filter, then a strided convolution keeps every down-th output.
        x = upfirdn2d(x, f, padding=pad, flip_filter=flip_filter)
        return _conv(x, w, stride=down, groups=groups, flip_weight=flip_weight)
    if up > 1:
        # A transposed conv with stride `up` = zero insertion + full convolution (padding kw - 1, kh - 1).
        # It needs the kernel as [C, O // groups, kh, kw] and flipped to keep correlation semantics.
        w = w.reshape(groups, out_channels // groups, in_per_group, kh, kw).transpose(1, 2)
        w = w.reshape(groups * in_per_group, out_channels // groups, kh, kw)
        px0, px1, py0, py1 = px0 - (kw - 1), px1 - (kw - up), py0 - (kh - 1), py1 - (kh - up)
        # Whatever both sides crop is cropped by the transposed conv itself.
        crop_x, crop_y = max(min(-px0, -px1), 0), max(min(-py0, -py1), 0)
        x = _conv(
            x,
            w,
            stride=up,
            padding=(crop_y, crop_x),
            groups=groups,
            transpose=True,
            flip_weight=not flip_weight,
        )
        pad = [px0 + crop_x, px1 + crop_x, py0 + crop_y, py1 + crop_y]
        x = upfirdn2d(x, f, padding=pad, gain=up**2, flip_filter=flip_filter)
        if down > 1:
            x = upfirdn2d(x, f, down=down, flip_filter=flip_filter)
        return x
    if px0 == px1 and py0 == py1 and px0 >= 0 and py0 >= 0:
        return _conv(x, w, padding=(py0, px0), groups=groups, flip_weight=flip_weight)
    # Asymmetric or negative padding: pad / crop first.
    x = upfirdn2d(x, None, padding=pad)
    return _conv(x, w, groups=groups, flip_weight=flip_weight)
