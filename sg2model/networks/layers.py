"""Equalized-learning-rate building blocks shared by the mapping network, the discriminator and StyleGAN v1.

Weights are stored as ``randn / lr_multiplier`` and scaled at run time by ``lr_multiplier / sqrt(fan_in)``
(equalized learning rate, Karras et al. 2018; docs/facts.md, "Mapping network"). Parameter and buffer names
follow stylegan2-ada-pytorch so its state dicts load one to one.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sg2model.ops.bias_act import ACTIVATIONS, bias_act
from sg2model.ops.conv2d_resample import conv2d_resample
from sg2model.ops.upfirdn2d import setup_filter


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """``x * rsqrt(mean(x**2) + eps)`` along ``dim`` (docs/facts.md, "Mapping network": applied to z and to
    embedded labels)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


class FullyConnectedLayer(nn.Module):
    """Dense layer ``act(x @ (w * weight_gain).T + b * lr_multiplier)``; ``weight [out, in]``, ``bias [out]``.

    ``weight_gain = gain * lr_multiplier / sqrt(in)``. StyleGAN2 keeps ``gain = 1`` and applies the
    activation's sqrt(2) after the bias (:func:`bias_act`); StyleGAN v1 (TF ``dense(gain=sqrt(2))``) puts
    it in the weight scale, before the bias, and uses a linear layer followed by its own leaky ReLU.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
        gain: float = 1.0,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = gain * lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 2 and x.shape[1] == self.in_features, (tuple(x.shape), self.in_features)  # [NI]
        w = self.weight.to(x.dtype) * self.weight_gain  # [OI]
        b = None if self.bias is None else self.bias.to(x.dtype) * self.bias_gain  # [O]
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())  # [NO]
        return bias_act(x.matmul(w.t()), b, act=self.activation)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, activation={self.activation}"
        )


class Conv2dLayer(nn.Module):
    """Equalized-lr convolution with optional FIR up/down-sampling, bias, activation and clamp.

    ``weight [O, I, k, k]`` scaled by ``1/sqrt(I*k*k)``; ``resample_filter`` buffer as in ada-pytorch.
    Used by the discriminator (fromrgb, conv0/conv1, skip) and by the residual generator's skip.
    """

    resample_filter: torch.Tensor  # buffer [4, 4]

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        up: int = 1,
        down: int = 1,
        resample_filter: tuple[int, ...] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.activation = activation
        self.up = up
        self.down = down
        self.conv_clamp = conv_clamp
        self.padding = kernel_size // 2
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels])) if bias else None

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        assert x.ndim == 4 and x.shape[1] == self.in_channels, (tuple(x.shape), self.in_channels)  # [NIHW]
        w = self.weight.to(x.dtype) * self.weight_gain  # [OIkk]
        b = None if self.bias is None else self.bias.to(x.dtype)
        x = conv2d_resample(
            x,
            w,
            f=self.resample_filter,
            up=self.up,
            down=self.down,
            padding=self.padding,
            flip_weight=(self.up == 1),
        )  # [NOH'W']
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(
            x, b, act=self.activation, gain=ACTIVATIONS[self.activation].def_gain * gain, clamp=clamp
        )

    def extra_repr(self) -> str:
        return (
            f"in={self.in_channels}, out={self.out_channels}, act={self.activation}, up={self.up}, "
            f"down={self.down}"
        )
