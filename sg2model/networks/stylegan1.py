"""StyleGAN (v1) generator ``G_style`` and discriminator ``D_basic`` for inference (Karras et al. 2019,
"A Style-Based Generator Architecture for GANs", Sections 2 and 3; StyleGAN2 Table 1 config A).

Semantics follow NVlabs/stylegan ``training/networks_stylegan.py`` so that official pickles render the same.
Where the mathematics is StyleGAN2's, the layers are the shared ones: the dense layers are
:class:`~sg2model.networks.layers.FullyConnectedLayer` (with v1's gain inside the weight scale), the pixel
norm of z is :func:`~sg2model.networks.layers.normalize_2nd_moment`, the blur is
:func:`~sg2model.ops.upfirdn2d.filter2d`, bias + leaky ReLU is :func:`~sg2model.ops.bias_act.bias_act` with
gain 1 and the minibatch std layer is :class:`~sg2model.networks.discriminator.MinibatchStdLayer` (TF v1's
``minibatch_stddev_layer`` is v2's: groups of ``min(4, N)``, biased variance + 1e-8, sqrt, mean over
channels and pixels, one new map).

- Mapping: ``z`` pixel-normalized (``z * rsqrt(mean(z**2) + 1e-8)``), 8 dense layers whose weights are scaled
  at run time by ``sqrt(2) / sqrt(fan_in) * lr_mul`` (lr_mul 0.01) and biases by ``lr_mul``, then leaky ReLU
  (slope 0.2, no output gain: the sqrt(2) sits in the weight scale, before the bias, where StyleGAN2 applies
  it after the activation -- ``lrelu(sqrt2 * x W + b)`` vs ``sqrt2 * lrelu(x W + b)``).
- Synthesis, one layer: convolution (weight scale ``sqrt(2) / sqrt(fan_in)``), for up-sampling layers the
  [1, 2, 1] blur, then the epilogue: per-channel noise ``noise * weight[C]``, bias, leaky ReLU, instance
  normalization (eps 1e-8), AdaIN style ``x * (s[:C] + 1) + s[C:]`` with ``s = affine(w)`` (scale
  ``1 / sqrt(w_dim)``). The 4x4 block starts from a learned constant that goes through the same epilogue.
- Up-sampling: nearest x2 then 3x3 conv, or (``fused_scale``, TF default for outputs >= 128) a stride-2
  transposed conv whose 4x4 kernel is the 3x3 kernel summed over its four one-pixel shifts.
- Output: progressive growing evaluated at its final level (lod 0), i.e. only ``ToRGB_lod0`` at full
  resolution (1x1 conv, weight scale ``1 / sqrt(fan_in)``, bias).
- ``D_basic``: FromRGB (1x1) at full resolution, per block 3x3 conv then blur + 3x3 conv + 2x2 average pool
  (or the fused stride-2 conv with the kernel's four shifts averaged), minibatch std (group ``min(4, N)``),
  3x3 conv, dense, dense output; all leaky ReLU with the sqrt(2) gain in the weight scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sg2model import paper_rows
from sg2model.configs import register_spec_kind
from sg2model.core.errors import Sg2Error
from sg2model.networks.discriminator import MinibatchStdLayer
from sg2model.networks.layers import FullyConnectedLayer, normalize_2nd_moment
from sg2model.networks.mapping import truncate
from sg2model.ops.bias_act import bias_act
from sg2model.ops.upfirdn2d import filter2d, setup_filter

_SQRT2 = math.sqrt(2.0)
_LRELU_SLOPE = 0.2
FUSED_SCALE_CHOICES = ("auto", "always", "never")


def _check_resolution(resolution: int) -> int:
    log2 = int(math.log2(resolution)) if resolution > 0 else 0
    if resolution < 4 or 2**log2 != resolution:
        raise Sg2Error(f"resolution {resolution} is not a power of two >= 4")
    return log2


class _SpecChecks:
    """Validation and the channel rule shared by the two spec dataclasses, which declare these fields."""

    img_resolution: int
    channel_base: int
    channel_max: int
    fused_scale: str
    blur_filter: tuple[float, ...]

    def __post_init__(self) -> None:
        _check_resolution(self.img_resolution)
        if self.fused_scale not in FUSED_SCALE_CHOICES:
            raise Sg2Error(
                f"fused_scale {self.fused_scale!r}; choose one of {', '.join(FUSED_SCALE_CHOICES)}"
            )
        object.__setattr__(self, "blur_filter", tuple(float(v) for v in self.blur_filter))

    def channels(self, res: int) -> int:
        """Feature maps at resolution ``res``: ``min(channel_base // res, channel_max)``."""
        return min(self.channel_base // res, self.channel_max)


@dataclass(frozen=True)
class StyleGAN1GeneratorSpec(_SpecChecks):
    """Everything that rebuilds a :class:`StyleGAN1Generator` (TF ``G_style`` kwargs in our names).

    Channels at resolution r: ``min(channel_base // r, channel_max)``; TF's ``fmap_base`` is
    ``channel_base / 2`` (8192 for the official networks). ``fused_scale``: 'auto' (fused transposed conv for
    outputs >= 128, the TF default), 'always' or 'never'.
    """

    img_resolution: int
    img_channels: int = 3
    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 8
    mapping_features: int = 512
    mapping_lr_multiplier: float = 0.01
    channel_base: int = 16384
    channel_max: int = 512
    fused_scale: str = "auto"
    blur_filter: tuple[float, ...] = (1.0, 2.0, 1.0)
    preset: str | None = None

    @property
    def num_ws(self) -> int:
        """Two styles per resolution (18 at 1024x1024)."""
        return 2 * _check_resolution(self.img_resolution) - 2


@dataclass(frozen=True)
class StyleGAN1DiscriminatorSpec(_SpecChecks):
    """Everything that rebuilds a :class:`StyleGAN1Discriminator` (TF ``D_basic``; also the CelebA-HQ
    attribute classifiers). ``mbstd_group_size`` 0 or 1 disables minibatch std (as in TF, ``> 1`` enables)."""

    img_resolution: int
    img_channels: int = 3
    channel_base: int = 16384
    channel_max: int = 512
    mbstd_group_size: int = 4
    mbstd_num_channels: int = 1
    out_features: int = 1
    fused_scale: str = "auto"
    blur_filter: tuple[float, ...] = (1.0, 2.0, 1.0)
    preset: str | None = None

    @property
    def uses_mbstd(self) -> bool:
        return self.mbstd_group_size > 1 and self.mbstd_num_channels > 0


def _use_fused(fused_scale: str, out_res: int) -> bool:
    """TF's 'auto' rule: fused resampling when the larger side of the conv (its output for G, input for D)
    is at least 128."""
    return fused_scale == "always" or (fused_scale == "auto" and out_res >= 128)


def _shift_sum(w: torch.Tensor) -> torch.Tensor:
    """``[O, I, k, k] -> [O, I, k+1, k+1]``: the kernel summed over its four one-pixel shifts (the fused
    resampling kernels of TF ``upscale2d_conv2d`` / ``conv2d_downscale2d``)."""
    w = F.pad(w, [1, 1, 1, 1])
    return w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]


class EqualConv(nn.Module):
    """Conv with run-time weight scale ``gain / sqrt(I*k*k)``; ``weight [O, I, k, k]``, optional ``bias [O]``.

    ``resample``: 0 plain, +1 up-sample x2 (nearest then conv, or fused transposed conv),
    -1 down-sample x2 (conv then 2x2 average, or fused stride-2 conv). TF 'SAME' padding throughout.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int,
        gain: float,
        bias: bool,
        resample: int = 0,
        fused: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn([out_ch, in_ch, kernel, kernel]))
        self.bias = nn.Parameter(torch.zeros([out_ch])) if bias else None
        self.weight_gain = gain / math.sqrt(in_ch * kernel * kernel)
        self.resample = resample
        self.fused = fused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = resample_conv(x, self.weight * self.weight_gain, self.resample, self.fused)
        if self.bias is not None:
            x = x + self.bias.reshape(1, -1, 1, 1)
        return x


def resample_conv(x: torch.Tensor, w: torch.Tensor, resample: int, fused: bool) -> torch.Tensor:
    """Conv of ``x [N, I, H, W]`` with the scaled ``w [O, I, k, k]`` in TF's 'SAME' layout; ``resample`` +1
    up-samples x2 (nearest then conv, or the fused transposed conv), -1 down-samples x2."""
    if resample > 0 and fused:
        return F.conv_transpose2d(x, _shift_sum(w).transpose(0, 1), stride=2, padding=1)  # [N, O, 2H, 2W]
    if resample < 0 and fused:
        return F.conv2d(x, _shift_sum(w) * 0.25, stride=2, padding=1)  # [N, O, H/2, W/2]
    if resample > 0:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
    x = F.conv2d(x, w, padding=w.shape[-1] // 2)
    return F.avg_pool2d(x, 2) if resample < 0 else x


class Blur(nn.Module):
    """TF ``blur2d``: the normalized outer product of ``taps`` ([1, 2, 1] -> 3x3 / 16), size kept.

    TF correlates with the kernel (``depthwise_conv2d``), hence ``flip_filter=True``; the default taps are
    symmetric anyway. The filter is a non-persistent buffer (not in state dicts).
    """

    kernel: torch.Tensor

    def __init__(self, taps: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("kernel", setup_filter(list(taps)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return filter2d(x, self.kernel, flip_filter=True)


class StyleLayer(nn.Module):
    """One synthesis layer: [conv (+ up + blur)] -> noise -> bias -> lrelu -> instance norm -> AdaIN.

    With ``in_ch == 0`` the layer is the 4x4 learned constant ``const [C, 4, 4]`` (no conv).
    Parameters: ``weight``, ``noise_strength [C]``, ``bias [C]``, ``style.weight [2C, w_dim]``,
    ``style.bias [2C]``; buffer ``noise_const [r, r]``.
    """

    noise_const: torch.Tensor

    def __init__(
        self, in_ch: int, out_ch: int, w_dim: int, resolution: int, up: bool, spec: StyleGAN1GeneratorSpec
    ):
        super().__init__()
        self.resolution = resolution
        self.is_const = in_ch == 0
        self.up = up
        self.fused = up and _use_fused(spec.fused_scale, resolution)
        self.blur = Blur(spec.blur_filter) if up and spec.blur_filter else None
        if self.is_const:
            self.const = nn.Parameter(torch.ones([out_ch, 4, 4]))
        else:
            self.weight = nn.Parameter(torch.randn([out_ch, in_ch, 3, 3]))
            self.weight_gain = _SQRT2 / math.sqrt(in_ch * 9)
        self.noise_strength = nn.Parameter(torch.zeros([out_ch]))
        self.bias = nn.Parameter(torch.zeros([out_ch]))
        self.style = FullyConnectedLayer(w_dim, 2 * out_ch)
        self.register_buffer("noise_const", torch.randn([resolution, resolution]))

    def forward(self, x: torch.Tensor | None, w: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        if self.is_const:
            x = self.const.unsqueeze(0).expand(w.shape[0], -1, -1, -1)  # [N, C, 4, 4]
        else:
            assert x is not None
            x = resample_conv(x, self.weight * self.weight_gain, int(self.up), self.fused)  # [N, C, r, r]
        if self.blur is not None:
            x = self.blur(x)
        if noise is not None:
            x = x + noise * self.noise_strength.reshape(1, -1, 1, 1)  # [N, C, r, r]
        x = bias_act(x, self.bias, act="lrelu", alpha=_LRELU_SLOPE, gain=1.0)  # v1: no activation gain
        x = x - x.mean(dim=[2, 3], keepdim=True)
        x = x * (x.square().mean(dim=[2, 3], keepdim=True) + 1e-8).rsqrt()  # instance norm
        style = self.style(w).reshape(w.shape[0], 2, -1, 1, 1)  # [N, 2, C, 1, 1]
        return x * (style[:, 0] + 1) + style[:, 1]


class StyleGAN1Mapping(nn.Module):
    """``z [N, z_dim] -> ws [N, num_ws, w_dim]``; parameters ``fc{i}.weight/bias``, buffer ``w_avg``."""

    w_avg: torch.Tensor

    def __init__(self, spec: StyleGAN1GeneratorSpec) -> None:
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws = spec.z_dim, spec.w_dim, spec.num_ws
        self.num_layers = spec.mapping_layers
        features = [spec.z_dim] + [spec.mapping_features] * (spec.mapping_layers - 1) + [spec.w_dim]
        for idx in range(spec.mapping_layers):
            layer = FullyConnectedLayer(
                features[idx], features[idx + 1], lr_multiplier=spec.mapping_lr_multiplier, gain=_SQRT2
            )
            setattr(self, f"fc{idx}", layer)
        self.register_buffer("w_avg", torch.zeros([spec.w_dim]))

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
    ) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise Sg2Error(f"z must have shape [N, {self.z_dim}], got {tuple(z.shape)}")
        x = normalize_2nd_moment(z.to(torch.float32))  # pixel norm
        for idx in range(self.num_layers):
            x = F.leaky_relu(getattr(self, f"fc{idx}")(x), _LRELU_SLOPE)  # [N, features]
        ws = x.unsqueeze(1).repeat([1, self.num_ws, 1])  # [N, num_ws, w_dim]
        return truncate(ws, self.w_avg, truncation_psi, truncation_cutoff)


class StyleGAN1Synthesis(nn.Module):
    """``ws [N, num_ws, w_dim] -> img [N, C, R, R]``. Layers ``b4.input`` (constant), ``b4.conv``,
    ``b{r}.conv0`` (up), ``b{r}.conv1``; output ``torgb`` (ToRGB_lod0) at full resolution."""

    def __init__(self, spec: StyleGAN1GeneratorSpec) -> None:
        super().__init__()
        self.num_ws, self.w_dim = spec.num_ws, spec.w_dim
        self.img_resolution = spec.img_resolution
        self.layer_names: list[str] = []
        log2 = _check_resolution(spec.img_resolution)
        blocks: dict[str, nn.Module] = {}
        c4 = spec.channels(4)
        blocks["b4"] = nn.ModuleDict(
            {
                "input": StyleLayer(0, c4, spec.w_dim, 4, up=False, spec=spec),
                "conv": StyleLayer(c4, c4, spec.w_dim, 4, up=False, spec=spec),
            }
        )
        self.layer_names += ["b4.input", "b4.conv"]
        for res_log2 in range(3, log2 + 1):
            res = 2**res_log2
            cin, cout = spec.channels(res // 2), spec.channels(res)
            blocks[f"b{res}"] = nn.ModuleDict(
                {
                    "conv0": StyleLayer(cin, cout, spec.w_dim, res, up=True, spec=spec),
                    "conv1": StyleLayer(cout, cout, spec.w_dim, res, up=False, spec=spec),
                }
            )
            self.layer_names += [f"b{res}.conv0", f"b{res}.conv1"]
        for name, block in blocks.items():
            setattr(self, name, block)
        self.torgb = EqualConv(spec.channels(spec.img_resolution), spec.img_channels, 1, 1.0, bias=True)

    def _layer(self, name: str) -> StyleLayer:
        block, layer = name.split(".")
        module = getattr(self, block)[layer]
        assert isinstance(module, StyleLayer)
        return module

    def noise_shapes(self) -> dict[str, tuple[int, int]]:
        """Layer name -> noise map size, in layer order (one noise input per layer, constant included)."""
        sizes = {name: self._layer(name).resolution for name in self.layer_names}
        return {name: (r, r) for name, r in sizes.items()}

    def forward(
        self,
        ws: torch.Tensor,
        noise_mode: str = "random",
        noise_inputs: dict[str, torch.Tensor] | None = None,
        force_fp32: bool = False,
    ) -> torch.Tensor:
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise Sg2Error(f"ws must have shape [N, {self.num_ws}, {self.w_dim}], got {tuple(ws.shape)}")
        if noise_mode not in ("random", "const", "none"):
            raise Sg2Error(f"noise_mode {noise_mode!r}; choose random, const or none")
        x: torch.Tensor | None = None
        for idx, name in enumerate(self.layer_names):
            layer = self._layer(name)
            noise = _layer_noise(layer, name, ws, noise_mode, noise_inputs)
            x = layer(x, ws[:, idx].to(torch.float32), noise)
        assert x is not None
        return self.torgb(x)


def _layer_noise(
    layer: StyleLayer, name: str, ws: torch.Tensor, mode: str, overrides: dict[str, torch.Tensor] | None
) -> torch.Tensor | None:
    r = layer.resolution
    if overrides is not None and name in overrides:
        return overrides[name].to(ws.device, torch.float32)
    if mode == "random":
        return torch.randn([ws.shape[0], 1, r, r], device=ws.device)
    if mode == "const":
        return layer.noise_const.reshape(1, 1, r, r)
    return None


class StyleGAN1Generator(nn.Module):
    """TF ``G_style`` for inference: ``G(z, c) = synthesis(mapping(z))``; ``c`` is ignored (unconditional)."""

    def __init__(self, spec: StyleGAN1GeneratorSpec) -> None:
        super().__init__()
        self.config = spec
        self.z_dim, self.c_dim, self.w_dim = spec.z_dim, 0, spec.w_dim
        self.num_ws, self.img_resolution, self.img_channels = (
            spec.num_ws,
            spec.img_resolution,
            spec.img_channels,
        )
        self.mapping = StyleGAN1Mapping(spec)
        self.synthesis = StyleGAN1Synthesis(spec)

    @classmethod
    def from_spec(cls, spec: StyleGAN1GeneratorSpec) -> StyleGAN1Generator:
        return cls(spec)

    @classmethod
    def from_config(cls, name: str, resolution: int, **overrides: Any) -> StyleGAN1Generator:
        """Generator of preset ``name`` ('A', 'A-large') at ``resolution`` (random weights)."""
        return cls(stylegan1_generator_spec(name, resolution, **overrides))

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,  # accepted for API parity; inference only, w_avg is never updated
        noise_mode: str = "random",
        **synthesis_kwargs: Any,
    ) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, **synthesis_kwargs)


class StyleGAN1DiscriminatorBlock(nn.Module):
    """``conv0`` 3x3 then blur + ``conv1`` 3x3 with down-sampling (TF ``{r}x{r}/Conv0``, ``Conv1_down``)."""

    def __init__(self, in_ch: int, out_ch: int, res: int, spec: StyleGAN1DiscriminatorSpec) -> None:
        super().__init__()
        self.conv0 = EqualConv(in_ch, in_ch, 3, _SQRT2, bias=True)
        self.blur = Blur(spec.blur_filter) if spec.blur_filter else None
        fused = _use_fused(spec.fused_scale, res)
        self.conv1 = EqualConv(in_ch, out_ch, 3, _SQRT2, bias=True, resample=-1, fused=fused)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.conv0(x), _LRELU_SLOPE)
        if self.blur is not None:
            x = self.blur(x)
        return F.leaky_relu(self.conv1(x), _LRELU_SLOPE)


class StyleGAN1Discriminator(nn.Module):
    """TF ``D_basic`` at its final level: ``fromrgb``, ``b{r}`` blocks, ``b4.mbstd`` (when used), ``b4.conv``,
    ``b4.fc``, ``b4.out``. ``D(img, c) -> [N, out_features]`` logits."""

    def __init__(self, spec: StyleGAN1DiscriminatorSpec) -> None:
        super().__init__()
        self.config = spec
        self.c_dim, self.img_resolution, self.img_channels = 0, spec.img_resolution, spec.img_channels
        log2 = _check_resolution(spec.img_resolution)
        self.fromrgb = EqualConv(spec.img_channels, spec.channels(spec.img_resolution), 1, _SQRT2, bias=True)
        self.block_names = []
        for res_log2 in range(log2, 2, -1):
            res = 2**res_log2
            block = StyleGAN1DiscriminatorBlock(spec.channels(res), spec.channels(res // 2), res, spec)
            setattr(self, f"b{res}", block)
            self.block_names.append(f"b{res}")
        c4 = spec.channels(4)
        in4 = c4 + (spec.mbstd_num_channels if spec.uses_mbstd else 0)
        epilogue: dict[str, nn.Module] = {}
        if spec.uses_mbstd:
            epilogue["mbstd"] = MinibatchStdLayer(spec.mbstd_group_size, spec.mbstd_num_channels)
        epilogue["conv"] = EqualConv(in4, c4, 3, _SQRT2, bias=True)
        epilogue["fc"] = FullyConnectedLayer(c4 * 16, spec.channels(2), gain=_SQRT2)
        epilogue["out"] = FullyConnectedLayer(spec.channels(2), spec.out_features)
        self.b4 = nn.ModuleDict(epilogue)

    @classmethod
    def from_spec(cls, spec: StyleGAN1DiscriminatorSpec) -> StyleGAN1Discriminator:
        return cls(spec)

    @classmethod
    def from_config(cls, name: str, resolution: int, **overrides: Any) -> StyleGAN1Discriminator:
        """Discriminator of preset ``name`` ('A', 'A-large') at ``resolution`` (random weights)."""
        return cls(stylegan1_discriminator_spec(name, resolution, **overrides))

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        expected = (self.img_channels, self.img_resolution, self.img_resolution)
        if img.ndim != 4 or tuple(img.shape[1:]) != expected:
            raise Sg2Error(
                f"images must have shape [N, {', '.join(map(str, expected))}], got {tuple(img.shape)}"
            )
        x = F.leaky_relu(self.fromrgb(img.to(torch.float32)), _LRELU_SLOPE)
        for name in self.block_names:
            x = getattr(self, name)(x)
        if "mbstd" in self.b4:
            x = self.b4["mbstd"](x)
        x = F.leaky_relu(self.b4["conv"](x), _LRELU_SLOPE)
        x = F.leaky_relu(self.b4["fc"](x.flatten(1)), _LRELU_SLOPE)
        return self.b4["out"](x)  # [N, out_features]


#: Preset name -> channel base of the StyleGAN v1 networks of the paper's rows (sg2model.paper_rows): Table 1
#: config A (the StyleGAN baseline: TF ``fmap_base`` 8192) and "Config A with large networks" ('A-large').
STYLEGAN1_PRESETS: dict[str, int] = {net.name: net.channel_base for net in paper_rows.networks("stylegan1")}


def _preset_channel_base(name: str) -> int:
    if name not in STYLEGAN1_PRESETS:
        raise Sg2Error(f"unknown StyleGAN v1 config {name!r}; known: {', '.join(STYLEGAN1_PRESETS)}")
    return STYLEGAN1_PRESETS[name]


def stylegan1_generator_spec(name: str, resolution: int, **overrides: Any) -> StyleGAN1GeneratorSpec:
    """Spec of preset ``name`` ('A' or 'A-large') at ``resolution``; overrides name spec fields."""
    base = {"img_resolution": resolution, "channel_base": _preset_channel_base(name), "preset": name}
    return _build_spec(StyleGAN1GeneratorSpec, {**base, **overrides})


def stylegan1_discriminator_spec(name: str, resolution: int, **overrides: Any) -> StyleGAN1DiscriminatorSpec:
    """Discriminator spec of preset ``name`` at ``resolution``."""
    base = {"img_resolution": resolution, "channel_base": _preset_channel_base(name), "preset": name}
    return _build_spec(StyleGAN1DiscriminatorSpec, {**base, **overrides})


def _build_spec(cls: Any, values: dict[str, Any]) -> Any:
    try:
        return cls(**values)
    except TypeError as exc:
        raise Sg2Error(f"bad option for {cls.__name__} ({exc}); see sg2model.networks.stylegan1") from exc


register_spec_kind("stylegan1-generator", StyleGAN1GeneratorSpec)
register_spec_kind("stylegan1-discriminator", StyleGAN1DiscriminatorSpec)
