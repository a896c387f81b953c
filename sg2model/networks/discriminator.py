"""StyleGAN2 discriminator: 'orig', 'skip' (input skips) and 'resnet' (configs E/F) architectures.

StyleGAN2 paper Section 4.1 and Figure 7; docs/facts.md, "Discriminator". Blocks ``b{r}`` for r = res..8 hold
``fromrgb`` (first block only, every block for 'skip'), ``conv0`` 3x3, ``conv1`` 3x3 down 2 and, for 'resnet',
``skip`` 1x1 down 2 without bias, summed with sqrt(0.5). The 4x4 epilogue ``b4``: minibatch standard deviation
``mbstd`` -> ``conv`` 3x3 -> ``fc`` (C*16 -> C) -> ``out``. Labels enter through a projection: the label is
mapped to ``cmap`` by ``mapping`` and the logit is ``sum(out * cmap) / sqrt(cmap_dim)``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from torch import nn

from sg2model.configs import DiscriminatorSpec, MappingSpec, get_preset, replace_fields
from sg2model.core.errors import Sg2Error
from sg2model.networks.layers import Conv2dLayer, FullyConnectedLayer
from sg2model.networks.mapping import MappingNetwork
from sg2model.ops.upfirdn2d import downsample2d, setup_filter


class DiscriminatorBlock(nn.Module):
    """One resolution ``r`` of the discriminator: ``(x, img) -> (x at r/2, img at r/2 or None)``."""

    resample_filter: torch.Tensor  # buffer [4, 4]

    def __init__(
        self,
        in_channels: int,  # 0 for the first block (image input only)
        tmp_channels: int,
        out_channels: int,
        resolution: int,
        use_fp16: bool,
        spec: DiscriminatorSpec,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.resolution = resolution
        self.architecture = spec.architecture
        self.use_fp16 = use_fp16
        act = spec.activation
        layer: dict[str, Any] = {"resample_filter": spec.resample_filter, "conv_clamp": spec.conv_clamp}
        self.register_buffer("resample_filter", setup_filter(list(spec.resample_filter)))
        if in_channels == 0 or spec.architecture == "skip":
            self.fromrgb = Conv2dLayer(spec.img_channels, tmp_channels, 1, activation=act, **layer)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, activation=act, **layer)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, activation=act, down=2, **layer)
        if spec.architecture == "resnet":
            self.skip = Conv2dLayer(
                tmp_channels, out_channels, 1, bias=False, down=2, resample_filter=spec.resample_filter
            )

    def forward(
        self, x: torch.Tensor | None, img: torch.Tensor | None, force_fp32: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        ref = x if x is not None else img
        assert ref is not None
        use_half = self.use_fp16 and not force_fp32 and ref.device.type == "cuda"
        dtype = torch.float16 if use_half else torch.float32
        if x is not None:
            x = x.to(dtype)
        if self.in_channels == 0 or self.architecture == "skip":
            assert img is not None and img.shape[-1] == self.resolution, None if img is None else img.shape
            img = img.to(dtype)
            y = self.fromrgb(img)  # [N, tmp, r, r]
            x = y if x is None else x + y
            img = downsample2d(img, self.resample_filter) if self.architecture == "skip" else None
        assert x is not None
        if self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x)
            x = self.conv1(x, gain=math.sqrt(0.5))
            x = y + x
        else:
            x = self.conv1(self.conv0(x))
        return x, img  # [N, out, r/2, r/2]


class MinibatchStdLayer(nn.Module):
    """Append the standard deviation over sample groups as extra feature maps (docs/facts.md,
    "Minibatch std").

    Groups of ``G = min(group_size, N)`` samples (``N`` when group_size is None; sample n belongs to group
    ``n % (N / G)``, as the official reshape), biased variance + 1e-8, sqrt, mean over the channels (split
    in ``num_channels`` parts) and pixels.
    """

    def __init__(self, group_size: int | None, num_channels: int = 1) -> None:
        super().__init__()
        self.group_size = group_size
        self.num_channels = num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = n if self.group_size is None else min(self.group_size, n)
        f = self.num_channels
        if n % g != 0 or c % f != 0:
            raise Sg2Error(
                f"minibatch std needs the batch ({n}) divisible by the group size ({g}) and the channels "
                f"({c}) by mbstd_num_channels ({f}); use a batch size that is a multiple of {g}"
            )
        y = x.reshape(g, -1, f, c // f, h, w)  # [GnFcHW]
        y = y - y.mean(dim=0)  # [GnFcHW]
        y = (y.square().mean(dim=0) + 1e-8).sqrt()  # [nFcHW]
        y = y.mean(dim=[2, 3, 4])  # [nF]
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)  # [NFHW]
        return torch.cat([x, y], dim=1)  # [N, C+F, H, W]

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}, num_channels={self.num_channels}"


class DiscriminatorEpilogue(nn.Module):
    """The 4x4 block: (fromrgb for 'skip') -> mbstd -> conv 3x3 -> fc -> out (-> label projection)."""

    def __init__(self, in_channels: int, cmap_dim: int, spec: DiscriminatorSpec) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.cmap_dim = cmap_dim
        self.architecture = spec.architecture
        act = spec.activation
        if spec.architecture == "skip":
            self.fromrgb = Conv2dLayer(
                spec.img_channels, in_channels, 1, activation=act, resample_filter=spec.resample_filter
            )
        extra = spec.mbstd_num_channels if spec.uses_mbstd else 0
        self.mbstd = MinibatchStdLayer(spec.mbstd_group_size, spec.mbstd_num_channels) if extra else None
        self.conv = Conv2dLayer(
            in_channels + extra,
            in_channels,
            3,
            activation=act,
            conv_clamp=spec.conv_clamp,
            resample_filter=spec.resample_filter,
        )
        self.fc = FullyConnectedLayer(in_channels * 16, in_channels, activation=act)
        self.out = FullyConnectedLayer(in_channels, cmap_dim if cmap_dim > 0 else spec.out_features)

    def forward(self, x: torch.Tensor, img: torch.Tensor | None, cmap: torch.Tensor | None) -> torch.Tensor:
        assert x.shape[1:] == (self.in_channels, 4, 4), tuple(x.shape)  # [NC44]
        x = x.to(torch.float32)
        if self.architecture == "skip":
            assert img is not None
            x = x + self.fromrgb(img.to(torch.float32))
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        x = self.fc(x.flatten(1))  # [N, C]
        x = self.out(x)  # [N, cmap_dim or out_features]
        if self.cmap_dim > 0:
            assert cmap is not None
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / math.sqrt(self.cmap_dim))  # [N, 1]
        return x


class Discriminator(nn.Module):
    """``D(img [N, C, H, W], c [N, c_dim]) -> logits [N, out_features]`` (CONTRACTS.md)."""

    def __init__(
        self,
        c_dim: int = 0,
        img_resolution: int = 1024,
        img_channels: int = 3,
        architecture: str = "resnet",
        mapping_kwargs: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        super().__init__()
        mapping = replace_fields(MappingSpec(w_avg_beta=None), dict(mapping_kwargs or {}))
        base = DiscriminatorSpec(
            img_resolution=img_resolution,
            c_dim=c_dim,
            img_channels=img_channels,
            architecture=architecture,
            mapping=mapping,
        )
        spec: DiscriminatorSpec = replace_fields(base, options)
        self.config = spec
        self.c_dim = spec.c_dim
        self.img_resolution = spec.img_resolution
        self.img_channels = spec.img_channels
        log2 = int(math.log2(spec.img_resolution))
        self.block_resolutions = [2**i for i in range(log2, 2, -1)]
        channels = {r: min(spec.channel_base // r, spec.channel_max) for r in [*self.block_resolutions, 4]}
        fp16_resolution = max(2 ** (log2 + 1 - spec.num_fp16_res), 8)
        cmap_dim = 0 if spec.c_dim == 0 else (spec.cmap_dim or channels[4])
        for res in self.block_resolutions:
            in_channels = channels[res] if res < spec.img_resolution else 0
            block = DiscriminatorBlock(
                in_channels,
                channels[res],
                channels[res // 2],
                res,
                use_fp16=res >= fp16_resolution,
                spec=spec,
            )
            setattr(self, f"b{res}", block)
        if spec.c_dim > 0:
            self.mapping = MappingNetwork(0, spec.c_dim, cmap_dim, None, spec.mapping)
        self.b4 = DiscriminatorEpilogue(channels[4], cmap_dim, spec)

    @classmethod
    def from_spec(cls, spec: DiscriminatorSpec) -> Discriminator:
        """Rebuild a discriminator (random weights) from its :class:`DiscriminatorSpec`."""
        options = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}
        options["mapping_kwargs"] = dataclasses.asdict(options.pop("mapping"))
        return cls(**options)

    @classmethod
    def from_config(cls, name: str, resolution: int, **overrides: Any) -> Discriminator:
        """Discriminator of preset ``name`` (see :mod:`sg2model.configs`) at ``resolution``."""
        return cls.from_spec(get_preset(name).discriminator_spec(resolution, **overrides))

    def forward(
        self, img: torch.Tensor, c: torch.Tensor | None = None, force_fp32: bool = False
    ) -> torch.Tensor:
        expected = (self.img_channels, self.img_resolution, self.img_resolution)
        if img.ndim != 4 or tuple(img.shape[1:]) != expected:
            raise Sg2Error(
                f"D expects images [N, {', '.join(map(str, expected))}], got {tuple(img.shape)}"
            )
        x = None
        image: torch.Tensor | None = img
        for res in self.block_resolutions:
            x, image = getattr(self, f"b{res}")(x, image, force_fp32)
        assert x is not None  # img_resolution >= 8 (DiscriminatorSpec)
        cmap = self.mapping(None, c) if self.c_dim > 0 else None
        return self.b4(x, image, cmap)
