"""Typed network specifications and the named presets of the StyleGAN2 paper.

A spec is a frozen dataclass that rebuilds a network exactly (``Generator.from_spec(spec)``); it is what our
network files store as JSON. A :class:`Preset` names a network of the paper and turns a resolution into a
generator or discriminator spec. The built-in presets are those of the paper's rows
(:mod:`sg2model.paper_rows`): configs B–D (the revised StyleGAN at its final level, 'orig' G and D), E, F and
the nine Table 2 architecture pairs ``E-{g}-{d}``; their architectures, channel bases and ``paper_row``
texts come from the registry.

Channel counts follow docs/facts.md, "Synthesis network": ``min(channel_base // res, channel_max)``; config F
uses ``channel_base = 32768`` and configs A–E ``16384`` (footnote 4 of the paper: doubling the feature maps at
64²–1024² takes G from 25M to 30M and D from 24M to 29M parameters).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from sg2model import paper_rows
from sg2model.core.errors import Sg2Error

G_ARCHITECTURES = paper_rows.ARCHITECTURES  # Figure 7: 'orig' | 'skip' | 'resnet'
D_ARCHITECTURES = paper_rows.ARCHITECTURES
NOISE_MODES = ("random", "const", "none")


def _check_resolution(resolution: int) -> None:
    if not isinstance(resolution, int) or resolution < 4 or resolution & (resolution - 1):
        raise Sg2Error(f"resolution {resolution!r} is not a power of two >= 4; pass e.g. 256 or 1024")


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise Sg2Error(f"unknown {what} {value!r}; choose one of {', '.join(choices)}")


def _check_positive(what: str, value: int) -> None:
    if not isinstance(value, int) or value <= 0:
        raise Sg2Error(f"{what} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class MappingSpec:
    """Mapping network f: Z -> W (paper Section 2; docs/facts.md, "Mapping network")."""

    num_layers: int = (
        8  # fully connected layers; 0 = normalized input only (ADA's conditional D, TF and torch)
    )
    embed_features: int | None = None  # label embedding width; None = w_dim when c_dim > 0
    layer_features: int | None = None  # hidden width; None = w_dim
    activation: str = "lrelu"
    lr_multiplier: float = 0.01  # equalized learning rate multiplier
    w_avg_beta: float | None = 0.995  # EMA decay of the tracked w_avg; None = no tracking

    def __post_init__(self) -> None:
        if not isinstance(self.num_layers, int) or self.num_layers < 0:
            raise Sg2Error(f"mapping num_layers must be a non-negative integer, got {self.num_layers!r}")


@dataclass(frozen=True)
class SynthesisSpec:
    """Synthesis network g: W -> image (paper Figures 2d and 7)."""

    architecture: str = "skip"  # 'orig' | 'skip' (output skips, configs E/F) | 'resnet'
    channel_base: int = 32768  # channels at resolution r: min(channel_base // r, channel_max)
    channel_max: int = 512
    num_fp16_res: int = 0  # run the highest N resolutions in float16 (CUDA only)
    conv_clamp: float | None = None  # clamp conv outputs to +-conv_clamp (ada uses 256 with fp16)
    demodulate: bool = True  # weight demodulation (Eq. 3); False = Table 4 "Demod" off
    use_noise: bool = True  # per-pixel noise inputs
    resample_filter: tuple[int, ...] = (1, 3, 3, 1)
    img_height: int | None = None  # crop the output to this many centred rows (e.g. LSUN Car 384)

    def __post_init__(self) -> None:
        _check_choice("generator architecture", self.architecture, G_ARCHITECTURES)
        _check_positive("channel_base", self.channel_base)
        _check_positive("channel_max", self.channel_max)
        object.__setattr__(self, "resample_filter", tuple(self.resample_filter))


@dataclass(frozen=True)
class GeneratorSpec:
    """Everything needed to rebuild a :class:`sg2model.Generator`."""

    img_resolution: int
    z_dim: int = 512
    c_dim: int = 0
    w_dim: int = 512
    img_channels: int = 3
    mapping: MappingSpec = field(default_factory=MappingSpec)
    synthesis: SynthesisSpec = field(default_factory=SynthesisSpec)
    preset: str | None = None  # name of the preset this spec came from, if any

    def __post_init__(self) -> None:
        _check_resolution(self.img_resolution)
        _check_positive("w_dim", self.w_dim)
        _check_positive("img_channels", self.img_channels)
        height = self.synthesis.img_height
        if height is not None and not (0 < height <= self.img_resolution):
            raise Sg2Error(
                f"img_height {height} must lie in 1..{self.img_resolution} (the generated square's side)"
            )

    @property
    def num_ws(self) -> int:
        """Number of w vectors: two per block except one at 4x4, plus the last ToRGB (18 at 1024²)."""
        return 2 * int(math.log2(self.img_resolution)) - 2


@dataclass(frozen=True)
class DiscriminatorSpec:
    """Everything needed to rebuild a :class:`sg2model.Discriminator` (paper Figure 7, Appendix B)."""

    img_resolution: int
    c_dim: int = 0
    img_channels: int = 3
    architecture: str = "resnet"  # 'orig' | 'skip' (input skips) | 'resnet' (configs E/F)
    channel_base: int = 32768
    channel_max: int = 512
    num_fp16_res: int = 0
    conv_clamp: float | None = None
    cmap_dim: int | None = None  # projection width for labels; None = channels at 4x4
    mbstd_group_size: int | None = 4  # minibatch std group size (min with N; None = N); 0 disables it
    mbstd_num_channels: int = 1  # new feature maps from minibatch std; 0 disables the layer
    out_features: int = 1  # logits per image (unconditional only; e.g. attribute classifiers)
    activation: str = "lrelu"
    resample_filter: tuple[int, ...] = (1, 3, 3, 1)
    mapping: MappingSpec = field(default_factory=lambda: MappingSpec(w_avg_beta=None))  # label embedding
    preset: str | None = None

    def __post_init__(self) -> None:
        _check_resolution(self.img_resolution)
        if self.img_resolution < 8:
            raise Sg2Error("a discriminator needs img_resolution >= 8 (one block above the 4x4 epilogue)")
        _check_choice("discriminator architecture", self.architecture, D_ARCHITECTURES)
        _check_positive("channel_base", self.channel_base)
        _check_positive("channel_max", self.channel_max)
        _check_positive("out_features", self.out_features)
        if self.c_dim > 0 and self.out_features != 1:
            raise Sg2Error("a conditional discriminator has one output; set out_features=1 or c_dim=0")
        object.__setattr__(self, "resample_filter", tuple(self.resample_filter))

    @property
    def uses_mbstd(self) -> bool:
        """Whether the epilogue appends minibatch standard deviation features."""
        return self.mbstd_group_size != 0 and self.mbstd_num_channels > 0


# ----------------------------------------------------------------------------------------------------------
# JSON round trip (used by the network files).

# kind name -> spec class; other network families (e.g. StyleGAN v1) register theirs with register_spec_kind.
SPEC_KINDS: dict[str, type] = {"generator": GeneratorSpec, "discriminator": DiscriminatorSpec}


def register_spec_kind(kind: str, spec_type: type) -> None:
    """Make a frozen spec dataclass storable in network files under the name ``kind``."""
    SPEC_KINDS[kind] = spec_type


def spec_to_dict(spec: Any) -> dict[str, Any]:
    """Plain JSON-able dict with a ``kind`` key naming the spec type (see :data:`SPEC_KINDS`)."""
    kinds = [kind for kind, spec_type in SPEC_KINDS.items() if type(spec) is spec_type]
    if not kinds:
        raise Sg2Error(f"{type(spec).__name__} is not a registered network spec; see register_spec_kind")
    return {"kind": kinds[0], **dataclasses.asdict(spec)}


def spec_from_dict(data: dict[str, Any]) -> Any:
    """Inverse of :func:`spec_to_dict`; unknown kinds or keys raise :class:`Sg2Error`."""
    values = dict(data)
    kind = values.pop("kind", None)
    if kind not in SPEC_KINDS:
        raise Sg2Error(f"network config has kind {kind!r}; known kinds: {', '.join(SPEC_KINDS)}")
    return _dataclass_from_dict(SPEC_KINDS[kind], values)


def _dataclass_from_dict(cls: type, values: dict[str, Any]) -> Any:
    """Build dataclass ``cls`` from a dict, rebuilding nested spec dataclasses from nested dicts."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise Sg2Error(
            f"network config has option(s) {', '.join(unknown)} unknown to {cls.__name__}; upgrade sg2model"
        )
    kwargs = {}
    for name, value in values.items():
        f = fields[name]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default) and isinstance(value, dict):
            value = _dataclass_from_dict(type(default), value)
        kwargs[name] = value
    return cls(**kwargs)


# ----------------------------------------------------------------------------------------------------------
# Presets.


@dataclass(frozen=True)
class Preset:
    """A named network configuration and the paper row it reproduces."""

    name: str
    paper_row: str  # where in the paper the configuration appears
    g_architecture: str
    d_architecture: str
    channel_base: int
    channel_max: int = 512

    def generator_spec(self, resolution: int, **overrides: Any) -> GeneratorSpec:
        """Generator spec at ``resolution``; ``overrides`` name GeneratorSpec or SynthesisSpec fields,
        and ``mapping_kwargs`` (a dict) MappingSpec fields."""
        synthesis = SynthesisSpec(
            architecture=self.g_architecture, channel_base=self.channel_base, channel_max=self.channel_max
        )
        return build_generator_spec(resolution, synthesis=synthesis, preset=self.name, **overrides)

    def discriminator_spec(self, resolution: int, **overrides: Any) -> DiscriminatorSpec:
        """Discriminator spec at ``resolution``; ``overrides`` name DiscriminatorSpec fields."""
        base = DiscriminatorSpec(
            img_resolution=resolution,
            architecture=self.d_architecture,
            channel_base=self.channel_base,
            channel_max=self.channel_max,
            preset=self.name,
        )
        return replace_fields(base, overrides)


def replace_fields(spec: Any, overrides: dict[str, Any]) -> Any:
    """``dataclasses.replace`` that names the valid fields when an override is unknown."""
    names = {f.name for f in dataclasses.fields(spec)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise Sg2Error(
            f"unknown option(s) {', '.join(unknown)} for {type(spec).__name__}; "
            f"valid: {', '.join(sorted(names))}"
        )
    return dataclasses.replace(spec, **overrides)


def build_generator_spec(
    img_resolution: int,
    *,
    synthesis: SynthesisSpec | None = None,
    mapping_kwargs: dict[str, Any] | None = None,
    **options: Any,
) -> GeneratorSpec:
    """Generator spec from flat keyword options, as ``Generator(..., mapping_kwargs, **synthesis_kwargs)``.

    Options naming GeneratorSpec fields (``z_dim``, ``c_dim``, ...) go there, the rest must be SynthesisSpec
    fields (``architecture``, ``channel_base``, ``img_height``, ...).
    """
    top_names = {f.name for f in dataclasses.fields(GeneratorSpec)} - {
        "mapping",
        "synthesis",
        "img_resolution",
    }
    top = {k: v for k, v in options.items() if k in top_names}
    synthesis_options = {k: v for k, v in options.items() if k not in top_names}
    return GeneratorSpec(
        img_resolution=img_resolution,
        mapping=replace_fields(MappingSpec(), dict(mapping_kwargs or {})),
        synthesis=replace_fields(synthesis or SynthesisSpec(), synthesis_options),
        **top,
    )


PRESETS: dict[str, Preset] = {}


def register_preset(preset: Preset) -> None:
    """Add a preset by name (the paper's are registered from :mod:`sg2model.paper_rows` below)."""
    PRESETS[preset.name] = preset


def get_preset(name: str) -> Preset:
    """The preset called ``name``; unknown names raise :class:`Sg2Error` listing the known ones."""
    if name not in PRESETS:
        raise Sg2Error(f"unknown network config {name!r}; known: {', '.join(sorted(PRESETS))}")
    return PRESETS[name]


def _register_paper_presets() -> None:
    """One preset per StyleGAN2-code network of the paper's rows (:mod:`sg2model.paper_rows`): configs B–F
    and the nine Table 2 pairs. Config A (StyleGAN v1, AdaIN) is not a StyleGAN2 spec: its presets live in
    :mod:`sg2model.networks.stylegan1`."""
    for network in paper_rows.networks("revised", "stylegan2"):
        register_preset(
            Preset(
                name=network.name,
                paper_row=paper_rows.cite_network(network.name),
                g_architecture=network.g_architecture,
                d_architecture=network.d_architecture,
                channel_base=network.channel_base,
            )
        )


_register_paper_presets()
