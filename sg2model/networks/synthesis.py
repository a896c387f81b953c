"""Synthesis network g: W -> image and the Generator (mapping + synthesis).

StyleGAN2 paper Section 2 (Figure 2d: modulation, demodulation, noise and bias outside the style block) and
Section 4.1 / Figure 7 (architectures 'orig', 'skip' = output skips, 'resnet'). Details follow docs/facts.md,
"Synthesis network" and stylegan2-ada-pytorch's names:

- block ``b{r}`` holds ``conv0`` (3x3, up 2; absent at 4x4 where ``const [C,4,4]`` is the input), ``conv1``
  (3x3), ``torgb`` (1x1 modulated, not demodulated; every block for 'skip', only the last otherwise) and, for
  'resnet', ``skip`` (1x1, up 2, no bias); residual sums are scaled by sqrt(0.5).
- ``num_ws = 2 log2(res) - 2``: the ToRGB of block r shares its w with conv0 of the next block.
- Noise ``randn[N,1,r,r] * noise_strength`` ('random'), ``noise_const * noise_strength`` ('const') or none;
  ``noise_inputs`` override it per layer and sample.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from torch import nn

from sg2model.configs import NOISE_MODES, GeneratorSpec, SynthesisSpec, build_generator_spec, get_preset
from sg2model.core.errors import Sg2Error
from sg2model.networks.layers import Conv2dLayer, FullyConnectedLayer
from sg2model.networks.mapping import MappingNetwork
from sg2model.ops.bias_act import ACTIVATIONS, bias_act
from sg2model.ops.modulated_conv import modulated_conv2d
from sg2model.ops.upfirdn2d import setup_filter, upsample2d

NoiseInputs = dict[str, torch.Tensor]


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution + noise + bias + leaky ReLU (Figure 2d, one style block)."""

    resample_filter: torch.Tensor  # buffer [4, 4]
    noise_const: torch.Tensor  # buffer [r, r] (when use_noise)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        spec: SynthesisSpec,
        up: int = 1,
        kernel_size: int = 3,
        activation: str = "lrelu",
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.resolution = resolution
        self.up = up
        self.padding = kernel_size // 2
        self.activation = activation
        self.use_noise = spec.use_noise
        self.demodulate = spec.demodulate
        self.conv_clamp = spec.conv_clamp
        # Without demodulation the equalized-lr gain 1/sqrt(fan_in) must be applied (folded into the styles).
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.register_buffer("resample_filter", setup_filter(list(spec.resample_filter)))
        if self.use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))

    def forward(
        self,
        x: torch.Tensor,  # [N, I, r/up, r/up]
        w: torch.Tensor,  # [N, w_dim]
        noise_mode: str = "random",
        noise_input: torch.Tensor | None = None,  # [N, 1, r, r], overrides noise_mode
        fused_modconv: bool = True,
        gain: float = 1.0,
    ) -> torch.Tensor:
        n = x.shape[0]
        in_res = self.resolution // self.up
        assert x.shape[1:] == (self.in_channels, in_res, in_res), (tuple(x.shape), self.in_channels, in_res)
        styles = self.affine(w)  # [N, I]
        if not self.demodulate:
            styles = styles * self.weight_gain
        noise = None
        if noise_input is not None:
            noise = noise_input.to(x.dtype) * self.noise_strength.to(x.dtype)  # [N, 1, r, r]
        elif self.use_noise and noise_mode == "random":
            noise = torch.randn([n, 1, self.resolution, self.resolution], device=x.device, dtype=x.dtype)
            noise = noise * self.noise_strength.to(x.dtype)
        elif self.use_noise and noise_mode == "const":
            noise = (self.noise_const * self.noise_strength).to(x.dtype)  # [r, r], broadcast over N
        x = modulated_conv2d(
            x,
            self.weight,
            styles,
            noise=noise,
            up=self.up,
            padding=self.padding,
            resample_filter=self.resample_filter,
            demodulate=self.demodulate,
            flip_weight=(self.up == 1),
            fused_modconv=fused_modconv,
        )  # [N, O, r, r]
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        act_gain = ACTIVATIONS[self.activation].def_gain * gain
        return bias_act(x, self.bias.to(x.dtype), act=self.activation, gain=act_gain, clamp=clamp)

    def extra_repr(self) -> str:
        return f"in={self.in_channels}, out={self.out_channels}, resolution={self.resolution}, up={self.up}"


class ToRGBLayer(nn.Module):
    """1x1 modulated convolution without demodulation, styles scaled by 1/sqrt(in_channels), bias."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused_modconv: bool = True) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain  # [N, I]
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused_modconv=fused_modconv)
        return bias_act(x, self.bias.to(x.dtype), clamp=self.conv_clamp)  # [N, C, r, r]


class SynthesisBlock(nn.Module):
    """One resolution ``r`` of the synthesis network: ``(x, img, ws) -> (x, img)``."""

    resample_filter: torch.Tensor  # buffer [4, 4]

    def __init__(
        self,
        in_channels: int,  # 0 for the 4x4 block (constant input)
        out_channels: int,
        w_dim: int,
        resolution: int,
        img_channels: int,
        is_last: bool,
        use_fp16: bool,
        spec: SynthesisSpec,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.resolution = resolution
        self.architecture = spec.architecture
        self.is_last = is_last
        self.use_fp16 = use_fp16
        self.register_buffer("resample_filter", setup_filter(list(spec.resample_filter)))
        self.num_conv = 0
        self.num_torgb = 0
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, spec, up=2)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, spec)
        self.num_conv += 1
        if is_last or spec.architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, spec.conv_clamp)
            self.num_torgb += 1
        if in_channels != 0 and spec.architecture == "resnet":
            self.skip = Conv2dLayer(
                in_channels,
                out_channels,
                kernel_size=1,
                bias=False,
                up=2,
                resample_filter=spec.resample_filter,
            )

    def conv_names(self) -> list[str]:
        """Names of this block's modulated conv layers, in the order they consume ws."""
        return (["conv0"] if self.in_channels != 0 else []) + ["conv1"]

    def forward(
        self,
        x: torch.Tensor | None,  # [N, in_channels, r/2, r/2] or None for the 4x4 block
        img: torch.Tensor | None,  # [N, img_channels, r/2, r/2] or None
        ws: torch.Tensor,  # [N, num_conv + num_torgb, w_dim]
        noise_mode: str,
        noise_inputs: NoiseInputs,  # keyed by 'conv0' / 'conv1'
        force_fp32: bool,
        fused_modconv: bool | None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        assert ws.shape[1] == self.num_conv + self.num_torgb, (tuple(ws.shape), self.num_conv, self.num_torgb)
        w_iter = iter(ws.unbind(dim=1))
        use_half = self.use_fp16 and not force_fp32 and ws.device.type == "cuda"
        dtype = torch.float16 if use_half else torch.float32
        n = ws.shape[0]
        if fused_modconv is None:
            fused_modconv = (not self.training) and (dtype == torch.float32 or n == 1)
        conv = {"noise_mode": noise_mode, "fused_modconv": fused_modconv}
        if x is None:
            x = self.const.to(dtype).unsqueeze(0).repeat([n, 1, 1, 1])  # [N, C, 4, 4]
            x = self.conv1(x, next(w_iter), noise_input=noise_inputs.get("conv1"), **conv)
        elif self.architecture == "resnet":
            x = x.to(dtype)
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x, next(w_iter), noise_input=noise_inputs.get("conv0"), **conv)
            x = self.conv1(
                x, next(w_iter), noise_input=noise_inputs.get("conv1"), gain=math.sqrt(0.5), **conv
            )
            x = y + x
        else:
            x = x.to(dtype)
            x = self.conv0(x, next(w_iter), noise_input=noise_inputs.get("conv0"), **conv)
            x = self.conv1(x, next(w_iter), noise_input=noise_inputs.get("conv1"), **conv)
        if img is not None:
            img = upsample2d(img, self.resample_filter)  # [N, C, r, r]
        if self.num_torgb:
            y = self.torgb(x, next(w_iter), fused_modconv=fused_modconv).to(torch.float32)
            img = y if img is None else img + y
        return x, img


class SynthesisNetwork(nn.Module):
    """``ws [N, num_ws, w_dim]`` -> ``img [N, img_channels, H, W]`` in about [-1, 1]."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, spec: SynthesisSpec) -> None:
        super().__init__()
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.img_height = spec.img_height
        log2 = int(math.log2(img_resolution))
        self.block_resolutions = [2**i for i in range(2, log2 + 1)]
        channels = {r: min(spec.channel_base // r, spec.channel_max) for r in self.block_resolutions}
        fp16_resolution = max(2 ** (log2 + 1 - spec.num_fp16_res), 8)
        self.num_ws = 0
        for res in self.block_resolutions:
            is_last = res == img_resolution
            block = SynthesisBlock(
                channels[res // 2] if res > 4 else 0,
                channels[res],
                w_dim,
                res,
                img_channels,
                is_last=is_last,
                use_fp16=res >= fp16_resolution,
                spec=spec,
            )
            self.num_ws += block.num_conv + (block.num_torgb if is_last else 0)
            setattr(self, f"b{res}", block)

    def noise_shapes(self) -> dict[str, tuple[int, int]]:
        """``{'b8.conv0': (8, 8), ...}``: the layers that take noise and the spatial shape of their maps."""
        shapes: dict[str, tuple[int, int]] = {}
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            for name in block.conv_names():
                if getattr(block, name).use_noise:
                    shapes[f"b{res}.{name}"] = (res, res)
        return shapes

    def _split_noise(self, noise_inputs: NoiseInputs | None, n: int) -> dict[str, NoiseInputs]:
        """Check ``noise_inputs`` against :meth:`noise_shapes` and group them by block."""
        per_block: dict[str, NoiseInputs] = {f"b{r}": {} for r in self.block_resolutions}
        if not noise_inputs:
            return per_block
        shapes = self.noise_shapes()
        for key, value in noise_inputs.items():
            if key not in shapes:
                raise Sg2Error(f"noise input {key!r} names no noise layer; valid: {', '.join(shapes)}")
            if tuple(value.shape) != (n, 1, *shapes[key]):
                raise Sg2Error(
                    f"noise input {key!r} has shape {tuple(value.shape)}; expected {(n, 1, *shapes[key])}"
                )
            block, layer = key.split(".")
            per_block[block][layer] = value
        return per_block

    def forward(
        self,
        ws: torch.Tensor,
        noise_mode: str = "random",
        noise_inputs: NoiseInputs | None = None,
        force_fp32: bool = False,
        fused_modconv: bool | None = None,
    ) -> torch.Tensor:
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise Sg2Error(f"ws must have shape [N, {self.num_ws}, {self.w_dim}], got {tuple(ws.shape)}")
        if noise_mode not in NOISE_MODES:
            raise Sg2Error(f"unknown noise_mode {noise_mode!r}; choose one of {', '.join(NOISE_MODES)}")
        noise = self._split_noise(noise_inputs, ws.shape[0])
        ws = ws.to(torch.float32)
        x = img = None
        w_idx = 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            block_ws = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            w_idx += block.num_conv
            x, img = block(x, img, block_ws, noise_mode, noise[f"b{res}"], force_fp32, fused_modconv)
        assert img is not None
        if self.img_height is not None:
            top = (self.img_resolution - self.img_height) // 2
            img = img[:, :, top : top + self.img_height]  # centred rows, as LSUN Car's 512x384 canvas
        return img

    def extra_repr(self) -> str:
        return f"w_dim={self.w_dim}, num_ws={self.num_ws}, img_resolution={self.img_resolution}"


class Generator(nn.Module):
    """StyleGAN2 generator: ``G(z, c) = synthesis(mapping(z, c))`` (CONTRACTS.md "sg2model networks").

    Build from keywords as stylegan2-ada-pytorch (``Generator(512, 0, 512, 1024, 3, channel_base=32768)``),
    from a preset (``Generator.from_config('F', 1024)``) or from a spec (``Generator.from_spec(G.config)``).
    """

    def __init__(
        self,
        z_dim: int = 512,
        c_dim: int = 0,
        w_dim: int = 512,
        img_resolution: int = 1024,
        img_channels: int = 3,
        mapping_kwargs: dict[str, Any] | None = None,
        **synthesis_kwargs: Any,
    ) -> None:
        super().__init__()
        spec = build_generator_spec(
            img_resolution,
            z_dim=z_dim,
            c_dim=c_dim,
            w_dim=w_dim,
            img_channels=img_channels,
            mapping_kwargs=mapping_kwargs,
            **synthesis_kwargs,
        )
        self.config = spec
        self.z_dim = spec.z_dim
        self.c_dim = spec.c_dim
        self.w_dim = spec.w_dim
        self.img_resolution = spec.img_resolution
        self.img_channels = spec.img_channels
        self.synthesis = SynthesisNetwork(spec.w_dim, spec.img_resolution, spec.img_channels, spec.synthesis)
        self.num_ws = self.synthesis.num_ws
        assert self.num_ws == spec.num_ws
        self.mapping = MappingNetwork(spec.z_dim, spec.c_dim, spec.w_dim, self.num_ws, spec.mapping)

    @classmethod
    def from_spec(cls, spec: GeneratorSpec) -> Generator:
        """Rebuild a generator (random weights) from its :class:`GeneratorSpec`."""
        return cls(
            z_dim=spec.z_dim,
            c_dim=spec.c_dim,
            w_dim=spec.w_dim,
            img_resolution=spec.img_resolution,
            img_channels=spec.img_channels,
            mapping_kwargs=dataclasses.asdict(spec.mapping),
            preset=spec.preset,
            **dataclasses.asdict(spec.synthesis),
        )

    @classmethod
    def from_config(cls, name: str, resolution: int, **overrides: Any) -> Generator:
        """Generator of preset ``name`` (see :mod:`sg2model.configs`) at ``resolution``."""
        return cls.from_spec(get_preset(name).generator_spec(resolution, **overrides))

    def forward(
        self,
        z: torch.Tensor,  # [N, z_dim]
        c: torch.Tensor | None = None,  # [N, c_dim] (None when c_dim == 0)
        truncation_psi: float = 1,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
        noise_mode: str = "random",
        noise_inputs: NoiseInputs | None = None,
        force_fp32: bool = False,
        fused_modconv: bool | None = None,
    ) -> torch.Tensor:
        ws = self.mapping(
            z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff, update_emas=update_emas
        )
        return self.synthesis(
            ws,
            noise_mode=noise_mode,
            noise_inputs=noise_inputs,
            force_fp32=force_fp32,
            fused_modconv=fused_modconv,
        )
