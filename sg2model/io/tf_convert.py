"""TF network records -> our PyTorch modules, one name table per architecture (docs/facts.md, "TF pickles").

Every parameter of our modules comes from exactly one TF variable through one of these transforms:

=============  ======================================================================================
``copy``       as stored (biases, noise strengths, ``dlatent_avg`` -> ``mapping.w_avg``)
``dense``      ``[in, out] -> [out, in]`` (transpose)
``conv``       ``[k, k, I, O] -> [O, I, k, k]`` (``transpose(3, 2, 0, 1)``)
``conv_flip``  as ``conv`` after a spatial flip ``[::-1, ::-1]``: the StyleGAN2 generator's up-sampling
               convs (``Conv0_up``, ``Skip``), which TF runs as a transposed conv and we (like
               stylegan2-ada-pytorch) as a correlation
``mod_bias``   ``+ 1``: TF adds 1 to the style bias at run time, we store the sum
               (docs/facts.md, "Synthesis network")
``const``      ``[1, C, 4, 4] -> [C, 4, 4]``
``noise``      ``[1, 1, r, r] -> [r, r]`` (the ``noise_mode='const'`` buffers)
=============  ======================================================================================

Weights keep TF's scale: TF and our layers both store ``randn / lr_mul`` and multiply by
``gain * lr_mul / sqrt(fan_in)`` at run time, so no rescaling is needed. Variables that only matter
while training or while growing (``lod``, ``ToRGB_lod{k>0}``, ``FromRGB_lod{k>0}``) are skipped; any other
TF variable without a rule, or a rule without its TF variable, is an error that names it.

Architectures (chosen from the pickled build function names):

==========================  ==========================================  ==================================
TF build functions          what                                        our module
==========================  ==========================================  ==================================
``G_style``                 StyleGAN v1 (config A, StyleGAN baselines)  :class:`StyleGAN1Generator`
``D_basic``                 StyleGAN v1 D, attribute classifiers        :class:`StyleGAN1Discriminator`
``G_main`` +                revised StyleGAN, configs B-D (final level  ``Generator`` 'orig'
``G_synthesis_stylegan_``   of progressive growing = 'orig' StyleGAN2
``revised``                 synthesis, ToRGB_lod0 as the last ToRGB)
``D_stylegan``              configs B-D discriminator (FromRGB_lod0)    ``Discriminator`` 'orig'
``G_main`` +                StyleGAN2 configs E-F, Table 2 variants     ``Generator``
``G_synthesis_stylegan2``
``D_stylegan2``             StyleGAN2 discriminator                     ``Discriminator``
``G_main`` + ``G_synthesis``  StyleGAN2-ADA (TensorFlow)                ``Generator``
``D_main``                  StyleGAN2-ADA (TensorFlow) discriminator    ``Discriminator``
==========================  ==========================================  ==================================

:func:`generator_rules` / :func:`discriminator_rules` list the full tables for a given resolution;
``docs/official_networks.md`` prints them for a 16x16 network.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sg2model import paper_rows
from sg2model.configs import DiscriminatorSpec, GeneratorSpec, MappingSpec, SynthesisSpec
from sg2model.core.errors import Sg2Error
from sg2model.core.images import to_uint8
from sg2model.io.network_limits import MAX_LAYERS, build_for_file, check_spec_limits
from sg2model.io.tf_pickle import TFNetworkRecord, read_tf_pickle
from sg2model.networks.discriminator import Discriminator
from sg2model.networks.stylegan1 import (
    StyleGAN1Discriminator,
    StyleGAN1DiscriminatorSpec,
    StyleGAN1Generator,
    StyleGAN1GeneratorSpec,
)
from sg2model.networks.synthesis import Generator

TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "copy": lambda v: v,
    "dense": lambda v: v.T,
    "conv": lambda v: v.transpose(3, 2, 0, 1),
    "conv_flip": lambda v: v[::-1, ::-1].transpose(3, 2, 0, 1),
    "mod_bias": lambda v: v + 1,
    "const": lambda v: v[0],
    "noise": lambda v: v[0, 0],
}

# TF variables that only matter in training or at coarser levels of progressive growing.
_SKIPPED = re.compile(r"^(.*/)?lod$|(^|/)ToRGB_lod[1-9]\d*/|(^|/)FromRGB_lod[1-9]\d*/")

ARCHITECTURES = ("stylegan1", "revised", "stylegan2", "stylegan2-ada-tf")


@dataclass(frozen=True)
class Rule:
    """``ours`` (our state-dict key) <- ``transform`` of TF variable ``tf`` (name with component prefixes)."""

    ours: str
    tf: str
    transform: str


@dataclass(frozen=True)
class Converted:
    """One converted network: the module, which TF architecture it came from and the rules used."""

    module: nn.Module
    architecture: str
    build_func_name: str
    rules: tuple[Rule, ...]


# ----------------------------------------------------------------------------------------------------------
# Name tables.


def _mapping_rules(num_layers: int, conditional_embed: bool) -> list[Rule]:
    rules = [Rule("mapping.w_avg", "dlatent_avg", "copy")]
    if conditional_embed:
        rules += [
            Rule("mapping.embed.weight", "mapping/LabelEmbed/weight", "dense"),
            Rule("mapping.embed.bias", "mapping/LabelEmbed/bias", "copy"),
        ]
    for i in range(num_layers):
        rules += [
            Rule(f"mapping.fc{i}.weight", f"mapping/Dense{i}/weight", "dense"),
            Rule(f"mapping.fc{i}.bias", f"mapping/Dense{i}/bias", "copy"),
        ]
    return rules


def _modconv_rules(ours: str, tf: str, up: bool, noise_idx: int | None) -> list[Rule]:
    rules = [
        Rule(f"{ours}.weight", f"{tf}/weight", "conv_flip" if up else "conv"),
        Rule(f"{ours}.bias", f"{tf}/bias", "copy"),
        Rule(f"{ours}.affine.weight", f"{tf}/mod_weight", "dense"),
        Rule(f"{ours}.affine.bias", f"{tf}/mod_bias", "mod_bias"),
    ]
    if noise_idx is not None:
        rules += [
            Rule(f"{ours}.noise_strength", f"{tf}/noise_strength", "copy"),
            Rule(f"{ours}.noise_const", f"synthesis/noise{noise_idx}", "noise"),
        ]
    return rules


def stylegan2_generator_rules(
    resolution: int, architecture: str, mapping_layers: int, conditional_embed: bool, revised: bool
) -> list[Rule]:
    """StyleGAN2 / StyleGAN2-ADA (TF) ``G_main`` and, with ``revised``, the configs B-D generator.

    Noise buffers: ``noise{2*log2(r)-5}`` -> ``b{r}.conv0``, ``noise{2*log2(r)-4}`` -> ``b{r}.conv1``.
    """
    log2 = int(math.log2(resolution))
    s = "synthesis"
    rules = _mapping_rules(mapping_layers, conditional_embed)
    rules.append(Rule(f"{s}.b4.const", f"{s}/4x4/Const/const", "const"))
    rules += _modconv_rules(f"{s}.b4.conv1", f"{s}/4x4/Conv", up=False, noise_idx=0)
    for res_log2 in range(2, log2 + 1):
        r = 2**res_log2
        scope = f"{s}/{r}x{r}"
        if res_log2 > 2:
            rules += _modconv_rules(
                f"{s}.b{r}.conv0", f"{scope}/Conv0_up", up=True, noise_idx=2 * res_log2 - 5
            )
            rules += _modconv_rules(f"{s}.b{r}.conv1", f"{scope}/Conv1", up=False, noise_idx=2 * res_log2 - 4)
            if architecture == "resnet":
                rules.append(Rule(f"{s}.b{r}.skip.weight", f"{scope}/Skip/weight", "conv_flip"))
        if architecture == "skip" or res_log2 == log2:
            torgb = f"{s}/ToRGB_lod0" if revised else f"{scope}/ToRGB"
            rules += _modconv_rules(f"{s}.b{r}.torgb", torgb, up=False, noise_idx=None)
    return rules


def _conv_rules(ours: str, tf: str, bias: bool = True, transform: str = "conv") -> list[Rule]:
    rules = [Rule(f"{ours}.weight", f"{tf}/weight", transform)]
    return rules + [Rule(f"{ours}.bias", f"{tf}/bias", "copy")] if bias else rules


def stylegan2_discriminator_rules(
    resolution: int, architecture: str, revised: bool, mapping_layers: int, conditional: bool
) -> list[Rule]:
    """``D_stylegan2`` / ``D_main`` (StyleGAN2-ADA TF) and, with ``revised``, ``D_stylegan`` (configs B-D)."""
    log2 = int(math.log2(resolution))
    rules: list[Rule] = []
    if conditional:
        rules += _conv_rules("mapping.embed", "LabelEmbed", transform="dense")
        for i in range(mapping_layers):
            rules += _conv_rules(f"mapping.fc{i}", f"Mapping{i}", transform="dense")
    for res_log2 in range(log2, 2, -1):
        r = 2**res_log2
        scope = f"{r}x{r}"
        if architecture == "skip" or res_log2 == log2:
            rules += _conv_rules(f"b{r}.fromrgb", "FromRGB_lod0" if revised else f"{scope}/FromRGB")
        rules += _conv_rules(f"b{r}.conv0", f"{scope}/Conv0")
        rules += _conv_rules(f"b{r}.conv1", f"{scope}/Conv1_down")
        if architecture == "resnet":
            rules += _conv_rules(f"b{r}.skip", f"{scope}/Skip", bias=False)
    if architecture == "skip":
        rules += _conv_rules("b4.fromrgb", "4x4/FromRGB")
    rules += _conv_rules("b4.conv", "4x4/Conv")
    rules += _conv_rules("b4.fc", "4x4/Dense0", transform="dense")
    rules += _conv_rules("b4.out", "Output", transform="dense")
    return rules


def _style_layer_rules(ours: str, tf: str, noise_idx: int, conv: bool) -> list[Rule]:
    rules = (
        [Rule(f"{ours}.weight", f"{tf}/weight", "conv")]
        if conv
        else [Rule(f"{ours}.const", f"{tf}/const", "const")]
    )
    return rules + [
        Rule(f"{ours}.noise_strength", f"{tf}/Noise/weight", "copy"),
        Rule(f"{ours}.bias", f"{tf}/bias", "copy"),
        Rule(f"{ours}.style.weight", f"{tf}/StyleMod/weight", "dense"),
        Rule(f"{ours}.style.bias", f"{tf}/StyleMod/bias", "copy"),
        Rule(f"{ours}.noise_const", f"synthesis/noise{noise_idx}", "noise"),
    ]


def stylegan1_generator_rules(resolution: int, mapping_layers: int) -> list[Rule]:
    """StyleGAN v1 ``G_style``: one noise input per layer, ``noise{2*log2(r)-4}`` -> ``b{r}.conv0`` and
    ``noise{2*log2(r)-3}`` -> ``b{r}.conv1`` (``noise0``/``noise1`` for the 4x4 constant and conv)."""
    log2 = int(math.log2(resolution))
    s = "synthesis"
    rules = _mapping_rules(mapping_layers, conditional_embed=False)
    rules += _style_layer_rules(f"{s}.b4.input", f"{s}/4x4/Const", 0, conv=False)
    rules += _style_layer_rules(f"{s}.b4.conv", f"{s}/4x4/Conv", 1, conv=True)
    for res_log2 in range(3, log2 + 1):
        r = 2**res_log2
        rules += _style_layer_rules(f"{s}.b{r}.conv0", f"{s}/{r}x{r}/Conv0_up", 2 * res_log2 - 4, conv=True)
        rules += _style_layer_rules(f"{s}.b{r}.conv1", f"{s}/{r}x{r}/Conv1", 2 * res_log2 - 3, conv=True)
    rules += _conv_rules(f"{s}.torgb", f"{s}/ToRGB_lod0")
    return rules


def stylegan1_discriminator_rules(resolution: int) -> list[Rule]:
    """StyleGAN v1 ``D_basic`` at its final level (FromRGB_lod0 only)."""
    log2 = int(math.log2(resolution))
    rules = _conv_rules("fromrgb", "FromRGB_lod0")
    for res_log2 in range(log2, 2, -1):
        r = 2**res_log2
        rules += _conv_rules(f"b{r}.conv0", f"{r}x{r}/Conv0") + _conv_rules(
            f"b{r}.conv1", f"{r}x{r}/Conv1_down"
        )
    rules += _conv_rules("b4.conv", "4x4/Conv")
    rules += _conv_rules("b4.fc", "4x4/Dense0", transform="dense")
    rules += _conv_rules("b4.out", "4x4/Dense1", transform="dense")
    return rules


# ----------------------------------------------------------------------------------------------------------
# Architecture detection and specs from the pickled kwargs (defaults = those of the TF build functions).

_G_SYNTHESIS_ARCH = {
    "G_synthesis_stylegan2": "stylegan2",
    "G_synthesis_stylegan_revised": "revised",
    "G_synthesis": "stylegan2-ada-tf",
}
_D_ARCH = {
    "D_basic": "stylegan1",
    "D_stylegan": "revised",
    "D_stylegan2": "stylegan2",
    "D_main": "stylegan2-ada-tf",
}


def generator_architecture(record: TFNetworkRecord) -> str:
    """Which of :data:`ARCHITECTURES` a TF generator record is; unknown build functions are refused."""
    if record.build_func_name == "G_style":
        return "stylegan1"
    synthesis = record.components.get("synthesis")
    if record.build_func_name == "G_main" and synthesis is not None and "mapping" in record.components:
        arch = _G_SYNTHESIS_ARCH.get(synthesis.build_func_name)
        if arch is not None:
            return arch
    inner = synthesis.build_func_name if synthesis is not None else "-"
    raise Sg2Error(
        f"unsupported TF generator '{record.build_func_name}' (synthesis '{inner}'); sg2model reads G_style, "
        "G_main with G_synthesis_stylegan2 / G_synthesis_stylegan_revised / G_synthesis (StyleGAN2-ADA)"
    )


def discriminator_architecture(record: TFNetworkRecord) -> str:
    """Which of :data:`ARCHITECTURES` a TF discriminator (or attribute classifier) record is."""
    arch = _D_ARCH.get(record.build_func_name)
    if arch is None:
        raise Sg2Error(
            f"unsupported TF discriminator '{record.build_func_name}'; sg2model reads {', '.join(_D_ARCH)}"
        )
    return arch


class _Kwargs:
    """Static kwargs of one TF network with its build function's defaults; records what was read."""

    def __init__(self, record: TFNetworkRecord, defaults: dict[str, Any]) -> None:
        self.values = {**defaults, **record.static_kwargs}
        self.where = f"TF network '{record.name}' ({record.build_func_name})"

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def require(self, key: str, allowed: tuple[Any, ...]) -> None:
        """Refuse values our modules do not implement (none of the official networks uses them)."""
        if self.values.get(key) not in allowed:
            raise Sg2Error(
                f"{self.where} has {key}={self.values.get(key)!r}; sg2model implements only {allowed} "
                "(the official configurations)"
            )


_COMMON_TF = {
    "resolution": 1024,
    "num_channels": 3,
    "label_size": 0,
    "fmap_decay": 1,
    "fmap_min": 1,
    "fmap_max": 512,
    "nonlinearity": "lrelu",
    "resample_kernel": [1, 3, 3, 1],
}
_MAPPING_TF = {
    "latent_size": 512,
    "label_size": 0,
    "dlatent_size": 512,
    "mapping_layers": 8,
    "mapping_fmaps": 512,
    "mapping_lrmul": 0.01,
    "mapping_nonlinearity": "lrelu",
    "normalize_latents": True,
}


def _stylegan2_generator_spec(record: TFNetworkRecord, arch: str) -> GeneratorSpec:
    syn = _Kwargs(
        record.components["synthesis"],
        {
            **_COMMON_TF,
            "fmap_base": 16384,
            "architecture": "skip",
            "conv_clamp": None,
            "fmap_const": None,
            "use_noise": True,
        },
    )
    mapping_defaults = {**_MAPPING_TF, "mapping_fmaps": None} if arch == "stylegan2-ada-tf" else _MAPPING_TF
    mp = _Kwargs(record.components["mapping"], {**mapping_defaults, "label_fmaps": None})
    for kw, key, allowed in (
        (syn, "fmap_decay", (1, 1.0)),
        (syn, "fmap_min", (1,)),
        (syn, "nonlinearity", ("lrelu",)),
        (syn, "fmap_const", (None,)),
        (syn, "use_noise", (True,)),
        (mp, "normalize_latents", (True,)),
    ):
        kw.require(key, allowed)
    if mp["label_size"] and arch != "stylegan2-ada-tf":
        raise Sg2Error(
            f"{mp.where} is conditional (LabelConcat); only StyleGAN2-ADA conditional networks load"
        )
    architecture = "orig" if arch == "revised" else syn["architecture"]
    synthesis = SynthesisSpec(
        architecture=architecture,
        channel_base=2 * int(syn["fmap_base"]),
        channel_max=int(syn["fmap_max"]),
        conv_clamp=syn["conv_clamp"],
        resample_filter=tuple(syn["resample_kernel"]),
    )
    mapping = MappingSpec(
        num_layers=int(mp["mapping_layers"]),
        # G_mapping's LabelEmbed width: label_fmaps, None = latent_size.
        embed_features=int(mp["label_fmaps"] or mp["latent_size"]) if mp["label_size"] else None,
        layer_features=mp["mapping_fmaps"],
        activation=str(mp["mapping_nonlinearity"]),
        lr_multiplier=float(mp["mapping_lrmul"]),
    )
    return GeneratorSpec(
        img_resolution=int(syn["resolution"]),
        z_dim=int(mp["latent_size"]),
        c_dim=int(mp["label_size"]),
        w_dim=int(mp["dlatent_size"]),
        img_channels=int(syn["num_channels"]),
        mapping=mapping,
        synthesis=synthesis,
    )


def _stylegan1_generator_spec(record: TFNetworkRecord) -> StyleGAN1GeneratorSpec:
    syn = _Kwargs(
        record.components["synthesis"],
        {
            **_COMMON_TF,
            "fmap_base": 8192,
            "use_styles": True,
            "const_input_layer": True,
            "use_noise": True,
            "use_wscale": True,
            "use_pixel_norm": False,
            "use_instance_norm": True,
            "fused_scale": "auto",
            "blur_filter": [1, 2, 1],
        },
    )
    mp = _Kwargs(record.components["mapping"], {**_MAPPING_TF, "use_wscale": True})
    for kw, key, allowed in (
        (syn, "fmap_decay", (1, 1.0)),
        (syn, "nonlinearity", ("lrelu",)),
        (syn, "use_styles", (True,)),
        (syn, "const_input_layer", (True,)),
        (syn, "use_noise", (True,)),
        (syn, "use_wscale", (True,)),
        (syn, "use_pixel_norm", (False,)),
        (syn, "use_instance_norm", (True,)),
        (mp, "use_wscale", (True,)),
        (mp, "normalize_latents", (True,)),
        (mp, "mapping_nonlinearity", ("lrelu",)),
        (mp, "label_size", (0,)),
    ):
        kw.require(key, allowed)
    fused = {True: "always", False: "never", "auto": "auto"}[syn["fused_scale"]]
    return StyleGAN1GeneratorSpec(
        img_resolution=int(syn["resolution"]),
        img_channels=int(syn["num_channels"]),
        z_dim=int(mp["latent_size"]),
        w_dim=int(mp["dlatent_size"]),
        mapping_layers=int(mp["mapping_layers"]),
        mapping_features=int(mp["mapping_fmaps"]),
        mapping_lr_multiplier=float(mp["mapping_lrmul"]),
        channel_base=2 * int(syn["fmap_base"]),
        channel_max=int(syn["fmap_max"]),
        fused_scale=fused,
        blur_filter=tuple(syn["blur_filter"] or ()),
    )


def _stylegan2_discriminator_spec(record: TFNetworkRecord, arch: str) -> DiscriminatorSpec:
    defaults = {
        **_COMMON_TF,
        "fmap_base": 16384,
        "architecture": "resnet",
        # D_stylegan2 / D_stylegan default to groups of 4; ADA's D_main to the whole minibatch (None).
        "mbstd_group_size": None if arch == "stylegan2-ada-tf" else 4,
        "mbstd_num_features": 1,
        "conv_clamp": None,
        "mapping_layers": 0,
        "mapping_fmaps": None,
        "mapping_lrmul": 0.1,
    }
    kw = _Kwargs(record, defaults)
    for key, allowed in (("fmap_decay", (1, 1.0)), ("fmap_min", (1,)), ("nonlinearity", ("lrelu",))):
        kw.require(key, allowed)
    if kw["label_size"] and arch != "stylegan2-ada-tf":
        raise Sg2Error(f"{kw.where} is conditional; only StyleGAN2-ADA conditional discriminators load")
    # D_main: LabelEmbed (and Mapping{i}) are mapping_fmaps wide, default nf(0) = min(fmap_base, fmap_max);
    # with mapping_layers = 0 the label embedding plus normalization is the whole label mapping.
    cmap_dim = kw["mapping_fmaps"] or min(int(kw["fmap_base"]), int(kw["fmap_max"]))
    conditional = bool(kw["label_size"])
    mapping = MappingSpec(
        num_layers=int(kw["mapping_layers"]),
        lr_multiplier=float(kw["mapping_lrmul"]),
        w_avg_beta=None,
    )
    group = kw["mbstd_group_size"]
    return DiscriminatorSpec(
        img_resolution=int(kw["resolution"]),
        c_dim=int(kw["label_size"]),
        img_channels=int(kw["num_channels"]),
        architecture="orig" if arch == "revised" else str(kw["architecture"]),
        channel_base=2 * int(kw["fmap_base"]),
        channel_max=int(kw["fmap_max"]),
        conv_clamp=kw["conv_clamp"],
        cmap_dim=int(cmap_dim) if conditional else None,
        mbstd_group_size=None if group is None else int(group),
        mbstd_num_channels=int(kw["mbstd_num_features"]),
        resample_filter=tuple(kw["resample_kernel"]),
        mapping=mapping,
    )


def _stylegan1_discriminator_spec(record: TFNetworkRecord) -> StyleGAN1DiscriminatorSpec:
    kw = _Kwargs(
        record,
        {
            **_COMMON_TF,
            "num_channels": 1,
            "resolution": 32,
            "fmap_base": 8192,
            "use_wscale": True,
            "mbstd_group_size": 4,
            "mbstd_num_features": 1,
            "fused_scale": "auto",
            "blur_filter": [1, 2, 1],
        },
    )
    for key, allowed in (
        ("fmap_decay", (1, 1.0)),
        ("nonlinearity", ("lrelu",)),
        ("use_wscale", (True,)),
        ("label_size", (0,)),
    ):
        kw.require(key, allowed)
    return StyleGAN1DiscriminatorSpec(
        img_resolution=int(kw["resolution"]),
        img_channels=int(kw["num_channels"]),
        channel_base=2 * int(kw["fmap_base"]),
        channel_max=int(kw["fmap_max"]),
        mbstd_group_size=int(kw["mbstd_group_size"]),
        mbstd_num_channels=int(kw["mbstd_num_features"]),
        fused_scale={True: "always", False: "never", "auto": "auto"}[kw["fused_scale"]],
        blur_filter=tuple(kw["blur_filter"] or ()),
    )


# ----------------------------------------------------------------------------------------------------------
# Conversion.


@dataclass(frozen=True)
class NetworkPlan:
    """What a TF record converts to, before anything is built: our builder and spec, the architecture path
    and the name table."""

    builder: Callable[[Any], nn.Module]
    spec: Any
    architecture: str
    rules: list[Rule]


def generator_plan(record: TFNetworkRecord) -> NetworkPlan:
    """The plan for a TF generator record; its spec is checked against the network limits."""
    arch = generator_architecture(record)
    where = f"TF generator '{record.name}'"
    if arch == "stylegan1":
        spec1 = _stylegan1_generator_spec(record)
        check_spec_limits(spec1, where)
        rules1 = stylegan1_generator_rules(spec1.img_resolution, spec1.mapping_layers)
        return NetworkPlan(StyleGAN1Generator, spec1, arch, rules1)
    spec = _stylegan2_generator_spec(record, arch)
    check_spec_limits(spec, where)
    rules = stylegan2_generator_rules(
        spec.img_resolution,
        spec.synthesis.architecture,
        spec.mapping.num_layers,
        conditional_embed=spec.c_dim > 0,
        revised=arch == "revised",
    )
    return NetworkPlan(Generator.from_spec, spec, arch, rules)


def discriminator_plan(record: TFNetworkRecord) -> NetworkPlan:
    """The plan for a TF discriminator record; its spec is checked against the network limits."""
    arch = discriminator_architecture(record)
    where = f"TF discriminator '{record.name}'"
    if arch == "stylegan1":
        spec1 = _stylegan1_discriminator_spec(record)
        check_spec_limits(spec1, where)
        rules1 = stylegan1_discriminator_rules(spec1.img_resolution)
        return NetworkPlan(StyleGAN1Discriminator, spec1, arch, rules1)
    spec = _stylegan2_discriminator_spec(record, arch)
    check_spec_limits(spec, where)
    mapping_layers = record.static_kwargs.get("mapping_layers", 0)
    if not isinstance(mapping_layers, int) or not 0 <= mapping_layers <= MAX_LAYERS:
        raise Sg2Error(f"{where} has mapping_layers={mapping_layers!r:.20}, outside 0..{MAX_LAYERS}")
    rules = stylegan2_discriminator_rules(
        spec.img_resolution,
        spec.architecture,
        revised=arch == "revised",
        mapping_layers=mapping_layers,
        conditional=spec.c_dim > 0,
    )
    return NetworkPlan(Discriminator.from_spec, spec, arch, rules)


def generator_rules(record: TFNetworkRecord) -> tuple[nn.Module, str, list[Rule]]:
    """A freshly built generator for a TF generator record (of kwargs only: no variables are needed), its
    architecture and its name table."""
    plan = generator_plan(record)
    return plan.builder(plan.spec), plan.architecture, plan.rules


def discriminator_rules(record: TFNetworkRecord) -> tuple[nn.Module, str, list[Rule]]:
    """A freshly built discriminator for a TF discriminator record, its architecture and its name table."""
    plan = discriminator_plan(record)
    return plan.builder(plan.spec), plan.architecture, plan.rules


def _build_planned(plan: NetworkPlan, record: TFNetworkRecord, where: str) -> nn.Module:
    """The planned network, built once its weights are known to fit in the values the pickle holds."""
    return build_for_file(plan.builder, plan.spec, _stored_elements(record), where)


def _stored_elements(record: TFNetworkRecord) -> int:
    """Values the pickle holds for a network: what its converted weights may be built from."""
    return sum(int(value.size) for value in record.all_variables().values())


def apply_rules(rules: list[Rule], variables: dict[str, np.ndarray], where: str) -> dict[str, torch.Tensor]:
    """Our state dict from TF variables; every TF variable must be used or skipped (training-only)."""
    missing = [rule.tf for rule in rules if rule.tf not in variables]
    if missing:
        raise Sg2Error(
            f"{where} lacks TF variable(s) {', '.join(missing[:5])}; the pickle does not match "
            "its build function's layout"
        )
    used = {rule.tf for rule in rules}
    unknown = [name for name in variables if name not in used and not _SKIPPED.search(name)]
    if unknown:
        raise Sg2Error(f"{where} has TF variable(s) without a conversion rule: {', '.join(unknown[:5])}")
    state = {}
    for rule in rules:
        value = TRANSFORMS[rule.transform](np.asarray(variables[rule.tf], dtype=np.float32))
        state[rule.ours] = torch.from_numpy(np.array(value, dtype=np.float32, order="C"))
    return state


def load_into(module: nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    """Copy ``state`` into ``module``; only buffers that TF does not store (FIR filters) may be absent."""
    own = module.state_dict()
    absent = [k for k in own if k not in state and not k.endswith("resample_filter")]
    extra = [k for k in state if k not in own]
    wrong = [
        f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and tuple(v.shape) != tuple(own[k].shape)
    ]
    if absent or extra or wrong:
        detail = "; ".join(
            filter(
                None,
                [
                    f"not in the pickle: {', '.join(absent[:5])}" if absent else "",
                    f"unknown: {', '.join(extra[:5])}" if extra else "",
                    f"shape mismatch: {', '.join(wrong[:3])}" if wrong else "",
                ],
            )
        )
        raise Sg2Error(f"{where} does not fit the network its kwargs describe ({detail})")
    module.load_state_dict(state, strict=False)


def convert_generator(record: TFNetworkRecord) -> Converted:
    """TF generator record (``Gs`` or ``G``) -> our generator with the pickle's weights, in eval mode."""
    plan = generator_plan(record)
    where = f"TF generator '{record.name}'"
    state = apply_rules(plan.rules, record.all_variables(), where)
    module = _build_planned(plan, record, where)
    load_into(module, state, where)
    return Converted(
        module.eval().requires_grad_(False), plan.architecture, record.build_func_name, tuple(plan.rules)
    )


def convert_discriminator(record: TFNetworkRecord) -> Converted:
    """TF discriminator / attribute classifier record -> our discriminator, in eval mode."""
    plan = discriminator_plan(record)
    where = f"TF discriminator '{record.name}'"
    state = apply_rules(plan.rules, record.all_variables(), where)
    module = _build_planned(plan, record, where)
    load_into(module, state, where)
    return Converted(
        module.eval().requires_grad_(False), plan.architecture, record.build_func_name, tuple(plan.rules)
    )


# ----------------------------------------------------------------------------------------------------------
# Whole pickles, for ``sg2model.load_network``.


def _check_final_level(record: TFNetworkRecord) -> None:
    """Progressive-growing networks are converted at their final level; a snapshot taken while growing
    (``lod > 0``) blends two resolutions and is refused."""
    for net in record.walk():
        lod = net.variables.get("lod")
        if lod is not None and float(np.asarray(lod)) != 0.0:
            raise Sg2Error(
                f"TF network '{net.name}' has lod={float(np.asarray(lod))} (taken while growing); only "
                "networks at their final level (lod 0) load"
            )


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def describe_record(record: TFNetworkRecord, converted: Converted) -> dict[str, Any]:
    """JSON-able provenance of one converted network (stored in the bundle's metadata)."""
    return {
        "architecture": converted.architecture,
        "build_func_name": record.build_func_name,
        "components": {key: comp.build_func_name for key, comp in record.components.items()},
        "static_kwargs": _json_safe(record.static_kwargs),
        "tf_num_variables": len(record.all_variables()),
        "build_module_sha256": record.build_module_sha256,
    }


#: NVIDIA's file-name tags of the paper's networks (sg2model.paper_rows), longest first so that
#: ``config-e-Gorig-Dskip`` wins over ``config-e``.
_OFFICIAL_TAG = re.compile(
    "|".join(
        re.escape(tag)
        for tag in sorted(
            (net.official_tag for net in paper_rows.networks() if net.official_tag), key=len, reverse=True
        )
    )
)


def guess_preset(file_name: str, architecture: str, channel_base: int) -> str | None:
    """Paper-row preset of an official file (:mod:`sg2model.paper_rows`): from its name
    (``stylegan2-ffhq-config-c.pkl`` -> 'C', ``...-config-e-Gorig-Dresnet.pkl`` -> 'E-orig-resnet') when the
    name agrees with the architecture found, else from the architecture alone where one network of the
    paper has it and ``channel_base`` (v1 16384 -> 'A', 32768 -> 'A-large'; StyleGAN2 32768 -> 'F')."""
    match = _OFFICIAL_TAG.search(file_name)
    named = paper_rows.network_for_tag(match.group(0)) if match else None
    if named is not None and named.family == architecture:
        return named.name
    same = [
        net.name
        for net in paper_rows.networks()
        if net.family == architecture and net.channel_base == channel_base
    ]
    return same[0] if len(same) == 1 else None


def read_tf_networks(path: Path) -> tuple[dict[str, nn.Module], dict[str, Any]]:
    """Reader for ``load_network``: a TF pickle's ``(G, D, Gs)`` as our ``G``, ``D``, ``G_ema``.

    A single-network pickle (an attribute classifier) becomes ``D`` (or ``G_ema`` for a generator). Each
    network's ``config.preset`` is set by :func:`guess_preset`.
    """
    tf = read_tf_pickle(path)
    networks: dict[str, nn.Module] = {}
    provenance: dict[str, Any] = {}
    for key, record in (("G", tf.G), ("D", tf.D), ("G_ema", tf.Gs)):
        if record is None:
            continue
        _check_final_level(record)
        converted = convert_discriminator(record) if key == "D" else convert_generator(record)
        net: Any = converted.module
        synthesis = getattr(net.config, "synthesis", net.config)
        preset = guess_preset(Path(path).name, converted.architecture, synthesis.channel_base)
        net.config = dataclasses.replace(net.config, preset=preset)
        networks[key] = net
        provenance[key] = describe_record(record, converted)
    return networks, {"source_format": "tf-pkl", "source_sha256": tf.sha256, "tf": provenance}


# ----------------------------------------------------------------------------------------------------------
# Conversion checks: a fingerprint of rendered images stored with the converted file.

FINGERPRINT_SEEDS = (0, 1, 2, 3)


@dataclass(frozen=True)
class FingerprintCheck:
    """Result of re-rendering a stored fingerprint: ``status`` is 'exact' (same uint8 hash), 'close'
    (hash differs, float statistics within ``tolerance``: another CPU or torch build) or 'mismatch'."""

    status: str
    expected_sha256: str
    actual_sha256: str
    max_stat_diff: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.status in ("exact", "close")


def render_fingerprint(G: nn.Module, seeds: tuple[int, ...] = FINGERPRINT_SEEDS) -> dict[str, Any]:
    """Render ``seeds`` (z = ``RandomState(seed).randn(z_dim)`` as NVIDIA's generate scripts, psi 1, constant
    noise, zero labels) and return the SHA-256 of the uint8 images (:func:`~sg2model.core.images.to_uint8`)
    plus per-image mean and standard deviation of the float output."""
    net: Any = G
    z = np.stack([np.random.RandomState(seed).randn(net.z_dim) for seed in seeds])
    c = torch.zeros([len(seeds), net.c_dim]) if net.c_dim else None
    with torch.no_grad():
        img = net(torch.from_numpy(z).float(), c, truncation_psi=1, noise_mode="const").to(torch.float32)
    uint8 = to_uint8(img)
    return {
        "seeds": list(seeds),
        "truncation_psi": 1,
        "noise_mode": "const",
        "sha256": hashlib.sha256(uint8.numpy().tobytes()).hexdigest(),
        "means": [float(v) for v in img.mean(dim=[1, 2, 3])],
        "stds": [float(v) for v in img.std(dim=[1, 2, 3])],
    }


def check_fingerprint(G: nn.Module, stored: dict[str, Any], tolerance: float = 1e-3) -> FingerprintCheck:
    """Re-render the stored fingerprint's seeds with ``G`` and compare (see :class:`FingerprintCheck`)."""
    try:
        fresh = render_fingerprint(G, tuple(int(s) for s in stored["seeds"]))
        expected = np.array(stored["means"] + stored["stds"], dtype=np.float64)
    except (KeyError, TypeError, ValueError) as exc:
        raise Sg2Error(f"the stored render fingerprint is malformed ({exc}); convert again") from exc
    diff = float(np.max(np.abs(np.array(fresh["means"] + fresh["stds"]) - expected)))
    if fresh["sha256"] == stored["sha256"]:
        status = "exact"
    else:
        status = "close" if diff <= tolerance else "mismatch"
    return FingerprintCheck(status, str(stored["sha256"]), fresh["sha256"], diff, tolerance)
