"""Modulated and demodulated convolution: StyleGAN2 Sec. 2.2, Equations 1-3.

Eq. 1 modulates the input channels of the weight by the style, ``w'_ijk = s_i * w_ijk``; Eq. 3 rescales each
output channel, ``w''_ijk = w'_ijk / sqrt(sum_ik w'_ijk^2 + eps)`` with ``eps = 1e-8``, so that unit-variance
i.i.d. inputs give unit-variance outputs (Eq. 2). As in stylegan2-ada-pytorch, the demodulation replaces the
equalized-learning-rate factor 1/sqrt(fan_in) (demodulated layers pass the raw weight) and float16 inputs
are pre-scaled, which the demodulation cancels. The noise is added after the convolution.

Two equivalent forms: the fused one builds a per-sample weight and runs one grouped convolution over the
batch folded into channels ([1, N*I, H, W], groups=N); the per-sample one scales the activations by the
styles before a shared convolution and by the demodulation coefficients after it.
"""

from __future__ import annotations

import math

import torch

from sg2model.core.errors import Sg2Error
from sg2model.ops.conv2d_resample import conv2d_resample
from sg2model.ops.upfirdn2d import IntOrPair

DEMOD_EPS = 1e-8  # epsilon of Eq. 3


def modulated_conv2d(
    x: torch.Tensor,  # [N, I, H, W]
    weight: torch.Tensor,  # [O, I, kh, kw]; demodulated layers pass it without the 1/sqrt(fan_in) gain
    styles: torch.Tensor,  # [N, I] modulation scales s_i
    noise: torch.Tensor | None = None,  # added to the output, e.g. [N, 1, H', W'] broadcast over channels
    up: int = 1,  # integer upsampling factor
    down: int = 1,  # integer downsampling factor
    padding: IntOrPair = 0,  # on the upsampled image
    resample_filter: torch.Tensor | None = None,  # FIR filter from setup_filter() for up/down
    demodulate: bool = True,  # apply Eq. 3
    flip_weight: bool = True,  # True = correlation (as F.conv2d), False = convolution
    fused_modconv: bool = True,  # one grouped conv (True) or scaling activations around a shared conv
) -> torch.Tensor:  # [N, O, H', W']
    """Eq. 1-3 of StyleGAN2 followed by optional noise (see the module docstring)."""
    if x.ndim != 4 or weight.ndim != 4 or styles.ndim != 2:
        raise Sg2Error("modulated_conv2d needs x [N, I, H, W], weight [O, I, kh, kw] and styles [N, I]")
    batch_size = int(x.shape[0])
    out_channels, in_channels, kh, kw = (int(s) for s in weight.shape)
    if x.shape[1] != in_channels or tuple(styles.shape) != (batch_size, in_channels):
        raise Sg2Error(
            f"modulated_conv2d: x {list(x.shape)}, weight {list(weight.shape)}, styles {list(styles.shape)} "
            "disagree; need x [N, I, H, W], weight [O, I, kh, kw], styles [N, I]"
        )

    if x.dtype == torch.float16 and demodulate:
        # Keep float16 in range; both factors cancel in Eq. 3.
        weight = weight / (math.sqrt(in_channels * kh * kw) * weight.abs().amax(dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.abs().amax(dim=1, keepdim=True)

    if not fused_modconv:
        x = x * styles.to(x.dtype).reshape(batch_size, -1, 1, 1)  # [N, I, H, W]
        x = conv2d_resample(
            x,
            weight.to(x.dtype),
            f=resample_filter,
            up=up,
            down=down,
            padding=padding,
            flip_weight=flip_weight,
        )  # [N, O, H', W']
        if demodulate:
            dcoefs = _demodulation(_modulate(weight, styles))  # [N, O]
            x = x * dcoefs.to(x.dtype).reshape(batch_size, -1, 1, 1)
        return x if noise is None else x + noise.to(x.dtype)

    w = _modulate(weight, styles)  # [N, O, I, kh, kw]
    if demodulate:
        w = w * _demodulation(w).reshape(batch_size, -1, 1, 1, 1)
    x = x.reshape(1, batch_size * in_channels, *x.shape[2:])  # [1, N*I, H, W]
    w = w.reshape(batch_size * out_channels, in_channels, kh, kw)  # [N*O, I, kh, kw]
    x = conv2d_resample(
        x,
        w.to(x.dtype),
        f=resample_filter,
        up=up,
        down=down,
        padding=padding,
        groups=batch_size,
        flip_weight=flip_weight,
    )  # [1, N*O, H', W']
    x = x.reshape(batch_size, out_channels, *x.shape[2:])  # [N, O, H', W']
    return x if noise is None else x + noise.to(x.dtype)


def _modulate(weight: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
    """Eq. 1: ``w'_ijk = s_i * w_ijk`` per sample; [O, I, kh, kw], [N, I] -> [N, O, I, kh, kw]."""
    return weight.unsqueeze(0) * styles.reshape(styles.shape[0], 1, -1, 1, 1)


def _demodulation(w: torch.Tensor) -> torch.Tensor:
    """Eq. 3 factors ``1 / sqrt(sum_ik w'_ijk^2 + eps)``; [N, O, I, kh, kw] -> [N, O]."""
    return (w.square().sum(dim=[2, 3, 4]) + DEMOD_EPS).rsqrt()
