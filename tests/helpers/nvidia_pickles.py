"""Network pickles with the object graph NVIDIA's code writes, built from our own networks (no NVIDIA code).

What each writer stands for (checked against files written by the real code, see docs/official_networks.md
"How the fixtures were checked"):

- :func:`ada_snapshot` -- ``network-snapshot-*.pkl`` of stylegan2-ada-pytorch's ``training/training_loop.py``:
  ``pickle.dump(dict(training_set_kwargs=dict(...), G=..., D=..., G_ema=..., augment_pipe=...))``, protocol 4
  (Python 3.8+ default). With ``numpy_spelling='numpy1'`` it stands for NVIDIA's published
  ``stylegan2-ada-pytorch/pretrained/*.pkl`` (written with NumPy 1).
- :func:`legacy_conversion` -- ``legacy.py --source=TF.pkl --dest=converted.pkl``: the same keys with
  ``augment_pipe`` and ``training_set_kwargs`` None and the init kwargs legacy.py derives from the TF kwargs
  (:func:`legacy_generator_kwargs`, :func:`legacy_discriminator_kwargs`).
- :func:`write_tf_pickle` with :data:`TF_FAMILIES` -- the TF files of docs/official_networks.md:
  NVlabs/stylegan (``karras2019stylegan-*.pkl``, Network pickle version 3), NVlabs/stylegan2
  (``stylegan2-*-config-*.pkl``, version 4) and NVlabs/stylegan2-ada (``stylegan2-ada/pretrained/*.pkl``
  incl. ``cifar10.pkl``, version 5).

Every persistent module of ``training/networks.py`` / ``training/augment.py`` becomes
``torch_utils.persistence._reconstruct_persistent_obj(meta)`` with ``meta = dict(type='class', version=6,
module_src=<source text>, class_name=..., state=<module __dict__>)``. The state holds torch's own
``nn.Module`` bookkeeping (taken from a fresh ``nn.Module()`` of the installed torch), parameters (no
gradient), buffers, submodules, ``_init_args`` / ``_init_kwargs`` as the parent passed them and each layer's
attributes with the types the real code gives them (``weight_gain`` and ``act_gain`` are numpy float64:
``lr_multiplier / np.sqrt(n)``, ``np.sqrt(2)``). The class builders below follow the constructors' signatures
and call structure (a description of the format, not NVIDIA's code); tensors are taken by name from a state
dict of our networks, whose names are stylegan2-ada-pytorch's.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

try:  # NumPy >= 2
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]

# Stands in for the embedded module source; a loader must never run it (it would raise).
MODULE_SRC = "raise RuntimeError('the embedded module source of a network pickle must never run')\n"


class EasyDict(dict[str, Any]):
    """Written as ``dnnlib.util.EasyDict``."""


def _reconstruct_persistent_obj(meta: dict[str, Any]) -> Any:  # written under torch_utils.persistence
    raise AssertionError("a loader must never call the persistence hook")


class _Persistent:
    """A persistent module as ``persistence``'s ``__reduce__`` writes it."""

    def __init__(self, meta: dict[str, Any]) -> None:
        self.meta = meta

    def __reduce__(self) -> tuple[Any, ...]:
        return _reconstruct_persistent_obj, (self.meta,)


class TFNetwork:
    """Written as ``dnnlib.tflib.network.Network``: NEWOBJ, then BUILD with ``Network.__getstate__()``."""

    def __init__(self, state: dict[str, Any]) -> None:
        self._state = state

    def __getstate__(self) -> dict[str, Any]:
        return self._state


_NAMES: dict[Any, tuple[str, str]] = {
    _reconstruct_persistent_obj: ("torch_utils.persistence", "_reconstruct_persistent_obj"),
    EasyDict: ("dnnlib.util", "EasyDict"),
    TFNetwork: ("dnnlib.tflib.network", "Network"),
}
_NUMPY1_NAMES: dict[Any, tuple[str, str]] = {
    _multiarray._reconstruct: ("numpy.core.multiarray", "_reconstruct"),
    _multiarray.scalar: ("numpy.core.multiarray", "scalar"),
}
NUMPY_SPELLINGS = ("numpy1", "numpy2")
RESAMPLE_FILTER = (1, 3, 3, 1)  # the constructors' default, a list there (blocks pass it on to their layers)


class NvidiaPickler(pickle._Pickler):
    """Pure-Python pickler writing our stand-ins under NVIDIA's global names and, for ``'numpy1'``, numpy's
    rebuild functions as NumPy 1 spells them (``numpy.core.multiarray``)."""

    def __init__(self, file: Any, protocol: int, numpy_spelling: str) -> None:
        super().__init__(file, protocol=protocol)
        assert numpy_spelling in NUMPY_SPELLINGS, numpy_spelling
        self.names = {**_NAMES, **(_NUMPY1_NAMES if numpy_spelling == "numpy1" else {})}

    def reducer_override(self, obj: Any) -> Any:
        try:
            spelled = self.names.get(obj)
        except TypeError:  # unhashable
            return NotImplemented
        return NotImplemented if spelled is None else spelled[1]

    def save_global(self, obj: Any, name: str | None = None) -> None:
        spelled = self.names.get(obj)
        if spelled is None:
            super().save_global(obj, name)
            return
        module, qualname = spelled
        if self.proto >= 4:
            self.save(module)
            self.save(qualname)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + f"{module}\n{qualname}\n".encode())
        self.memoize(obj)


def write_pickle(path: Path, obj: Any, protocol: int = 4, numpy_spelling: str = "numpy2") -> Path:
    """Pickle ``obj`` to ``path`` with :class:`NvidiaPickler`."""
    with open(path, "wb") as handle:
        NvidiaPickler(handle, protocol, numpy_spelling).dump(obj)
    return path


# ----------------------------------------------------------------------------------------------------------
# stylegan2-ada-pytorch: the persistent module tree.


@dataclass
class Node:
    """One persistent module: class name, constructor arguments as passed, attributes, tensor names."""

    class_name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    attrs: dict[str, Any] = field(default_factory=dict)
    params: list[str] = field(default_factory=list)
    buffers: list[str] = field(default_factory=list)
    children: dict[str, Node] = field(default_factory=dict)


def _persistent_class(class_name: str) -> Callable[[Callable[..., None]], Callable[..., Node]]:
    """``fill(node, *args, **kwargs)`` -> constructor-like ``make(*args, **kwargs) -> Node`` that records
    the arguments as ``persistence`` does (deep copies)."""

    def wrap(fill: Callable[..., None]) -> Callable[..., Node]:
        def make(*args: Any, **kwargs: Any) -> Node:
            node = Node(class_name, copy.deepcopy(args), copy.deepcopy(kwargs))
            fill(node, *args, **kwargs)
            return node

        return make

    return wrap


def _def_gain(activation: str) -> Any:
    """bias_act's ``def_gain``: ``np.sqrt(2)`` (numpy float64) for lrelu, the int 1 for linear."""
    return {"lrelu": np.sqrt(2), "linear": 1}[activation]


@_persistent_class("FullyConnectedLayer")
def fully_connected(
    node: Node,
    in_features: int,
    out_features: int,
    bias: bool = True,
    activation: str = "linear",
    lr_multiplier: float = 1,
    bias_init: float = 0,
) -> None:
    node.params = ["weight", "bias"] if bias else ["weight"]
    node.attrs.update(activation=activation, weight_gain=lr_multiplier / np.sqrt(in_features))
    node.attrs.update(bias_gain=lr_multiplier, **({} if bias else {"bias": None}))


@_persistent_class("Conv2dLayer")
def conv2d(
    node: Node,
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    bias: bool = True,
    activation: str = "linear",
    up: int = 1,
    down: int = 1,
    resample_filter: Any = RESAMPLE_FILTER,
    conv_clamp: Any = None,
    channels_last: bool = False,
    trainable: bool = True,
) -> None:
    node.attrs.update(activation=activation, up=up, down=down, conv_clamp=conv_clamp)
    node.attrs.update(padding=kernel_size // 2, weight_gain=1 / np.sqrt(in_channels * kernel_size**2))
    node.attrs["act_gain"] = _def_gain(activation)
    node.buffers = ["resample_filter"]
    tensors = ["weight", "bias"] if bias else ["weight"]
    if trainable:
        node.params = tensors
    else:  # Freeze-D: frozen layers keep their weights as buffers
        node.buffers += tensors
    if not bias:
        node.attrs["bias"] = None


@_persistent_class("MappingNetwork")
def mapping_network(
    node: Node,
    z_dim: int,
    c_dim: int,
    w_dim: int,
    num_ws: int | None,
    num_layers: int = 8,
    embed_features: int | None = None,
    layer_features: int | None = None,
    activation: str = "lrelu",
    lr_multiplier: float = 0.01,
    w_avg_beta: float | None = 0.995,
) -> None:
    node.attrs.update(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=num_ws, num_layers=num_layers)
    node.attrs["w_avg_beta"] = w_avg_beta
    embed = 0 if c_dim == 0 else (w_dim if embed_features is None else embed_features)
    hidden = w_dim if layer_features is None else layer_features
    features = [z_dim + embed] + [hidden] * (num_layers - 1) + [w_dim]
    if c_dim > 0:
        node.children["embed"] = fully_connected(c_dim, embed)
    for idx in range(num_layers):
        node.children[f"fc{idx}"] = fully_connected(
            features[idx], features[idx + 1], activation=activation, lr_multiplier=lr_multiplier
        )
    if num_ws is not None and w_avg_beta is not None:
        node.buffers = ["w_avg"]


@_persistent_class("SynthesisLayer")
def synthesis_layer(
    node: Node,
    in_channels: int,
    out_channels: int,
    w_dim: int,
    resolution: int,
    kernel_size: int = 3,
    up: int = 1,
    use_noise: bool = True,
    activation: str = "lrelu",
    resample_filter: Any = RESAMPLE_FILTER,
    conv_clamp: Any = None,
    channels_last: bool = False,
) -> None:
    node.attrs.update(resolution=resolution, up=up, use_noise=use_noise, activation=activation)
    node.attrs.update(conv_clamp=conv_clamp, padding=kernel_size // 2, act_gain=_def_gain(activation))
    node.children["affine"] = fully_connected(w_dim, in_channels, bias_init=1)
    node.buffers = ["resample_filter", "noise_const"] if use_noise else ["resample_filter"]
    node.params = ["weight", "noise_strength", "bias"] if use_noise else ["weight", "bias"]


@_persistent_class("ToRGBLayer")
def to_rgb_layer(
    node: Node,
    in_channels: int,
    out_channels: int,
    w_dim: int,
    kernel_size: int = 1,
    conv_clamp: Any = None,
    channels_last: bool = False,
) -> None:
    node.attrs.update(conv_clamp=conv_clamp, weight_gain=1 / np.sqrt(in_channels * kernel_size**2))
    node.children["affine"] = fully_connected(w_dim, in_channels, bias_init=1)
    node.params = ["weight", "bias"]


@_persistent_class("SynthesisBlock")
def synthesis_block(
    node: Node,
    in_channels: int,
    out_channels: int,
    w_dim: int,
    resolution: int,
    img_channels: int,
    is_last: bool,
    architecture: str = "skip",
    resample_filter: list[int] | None = None,
    conv_clamp: Any = None,
    use_fp16: bool = False,
    fp16_channels_last: bool = False,
    **layer_kwargs: Any,
) -> None:
    resample_filter = list(RESAMPLE_FILTER) if resample_filter is None else resample_filter
    channels_last = use_fp16 and fp16_channels_last
    node.attrs.update(in_channels=in_channels, w_dim=w_dim, resolution=resolution, img_channels=img_channels)
    node.attrs.update(is_last=is_last, architecture=architecture, use_fp16=use_fp16)
    node.attrs.update(channels_last=channels_last, num_conv=0, num_torgb=0)
    node.buffers = ["resample_filter"]
    layer = dict(w_dim=w_dim, resolution=resolution)
    if in_channels == 0:
        node.params = ["const"]
    else:
        node.children["conv0"] = synthesis_layer(
            in_channels, out_channels, **layer, up=2, resample_filter=resample_filter,
            conv_clamp=conv_clamp, channels_last=channels_last, **layer_kwargs,
        )  # fmt: skip
        node.attrs["num_conv"] += 1
    node.children["conv1"] = synthesis_layer(
        out_channels,
        out_channels,
        **layer,
        conv_clamp=conv_clamp,
        channels_last=channels_last,
        **layer_kwargs,
    )
    node.attrs["num_conv"] += 1
    if is_last or architecture == "skip":
        node.children["torgb"] = to_rgb_layer(
            out_channels, img_channels, w_dim=w_dim, conv_clamp=conv_clamp, channels_last=channels_last
        )
        node.attrs["num_torgb"] += 1
    if in_channels != 0 and architecture == "resnet":
        node.children["skip"] = conv2d(
            in_channels, out_channels, kernel_size=1, bias=False, up=2, resample_filter=resample_filter,
            channels_last=channels_last,
        )  # fmt: skip


@_persistent_class("SynthesisNetwork")
def synthesis_network(
    node: Node,
    w_dim: int,
    img_resolution: int,
    img_channels: int,
    channel_base: int = 32768,
    channel_max: int = 512,
    num_fp16_res: int = 0,
    **block_kwargs: Any,
) -> None:
    log2 = int(np.log2(img_resolution))
    resolutions = [2**i for i in range(2, log2 + 1)]
    node.attrs.update(w_dim=w_dim, img_resolution=img_resolution, img_resolution_log2=log2)
    node.attrs.update(img_channels=img_channels, block_resolutions=resolutions, num_ws=0)
    channels = {res: min(channel_base // res, channel_max) for res in resolutions}
    fp16_resolution = max(2 ** (log2 + 1 - num_fp16_res), 8)
    for res in resolutions:
        block = synthesis_block(
            channels[res // 2] if res > 4 else 0, channels[res], w_dim=w_dim, resolution=res,
            img_channels=img_channels, is_last=res == img_resolution, use_fp16=res >= fp16_resolution,
            **block_kwargs,
        )  # fmt: skip
        node.attrs["num_ws"] += block.attrs["num_conv"] + (
            block.attrs["num_torgb"] if res == img_resolution else 0
        )
        node.children[f"b{res}"] = block


@_persistent_class("Generator")
def generator(
    node: Node,
    z_dim: int,
    c_dim: int,
    w_dim: int,
    img_resolution: int,
    img_channels: int,
    mapping_kwargs: Mapping[str, Any] | None = None,
    synthesis_kwargs: Mapping[str, Any] | None = None,
) -> None:
    node.attrs.update(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=img_resolution)
    node.attrs["img_channels"] = img_channels
    synthesis = synthesis_network(
        w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels, **(synthesis_kwargs or {})
    )
    node.children["synthesis"] = synthesis
    node.attrs["num_ws"] = num_ws = synthesis.attrs["num_ws"]
    node.children["mapping"] = mapping_network(
        z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=num_ws, **(mapping_kwargs or {})
    )


@_persistent_class("DiscriminatorBlock")
def discriminator_block(
    node: Node,
    in_channels: int,
    tmp_channels: int,
    out_channels: int,
    resolution: int,
    img_channels: int,
    first_layer_idx: int,
    architecture: str = "resnet",
    activation: str = "lrelu",
    resample_filter: list[int] | None = None,
    conv_clamp: Any = None,
    use_fp16: bool = False,
    fp16_channels_last: bool = False,
    freeze_layers: int = 0,
) -> None:
    resample_filter = list(RESAMPLE_FILTER) if resample_filter is None else resample_filter
    channels_last = use_fp16 and fp16_channels_last
    node.attrs.update(in_channels=in_channels, resolution=resolution, img_channels=img_channels)
    node.attrs.update(first_layer_idx=first_layer_idx, architecture=architecture, use_fp16=use_fp16)
    node.attrs.update(channels_last=channels_last, num_layers=0)
    node.buffers = ["resample_filter"]

    def layer(name: str, *args: Any, **kwargs: Any) -> None:
        trainable = first_layer_idx + node.attrs["num_layers"] >= freeze_layers
        node.attrs["num_layers"] += 1
        node.children[name] = conv2d(*args, **kwargs, trainable=trainable, channels_last=channels_last)

    act = dict(activation=activation)
    if in_channels == 0 or architecture == "skip":
        layer("fromrgb", img_channels, tmp_channels, kernel_size=1, **act, conv_clamp=conv_clamp)
    layer("conv0", tmp_channels, tmp_channels, kernel_size=3, **act, conv_clamp=conv_clamp)
    layer("conv1", tmp_channels, out_channels, kernel_size=3, **act, down=2, resample_filter=resample_filter,
          conv_clamp=conv_clamp)  # fmt: skip
    if architecture == "resnet":
        layer("skip", tmp_channels, out_channels, kernel_size=1, bias=False, down=2,
              resample_filter=resample_filter)  # fmt: skip


@_persistent_class("MinibatchStdLayer")
def minibatch_std(node: Node, group_size: int | None, num_channels: int = 1) -> None:
    node.attrs.update(group_size=group_size, num_channels=num_channels)


@_persistent_class("DiscriminatorEpilogue")
def discriminator_epilogue(
    node: Node,
    in_channels: int,
    cmap_dim: int,
    resolution: int,
    img_channels: int,
    architecture: str = "resnet",
    mbstd_group_size: int | None = 4,
    mbstd_num_channels: int = 1,
    activation: str = "lrelu",
    conv_clamp: Any = None,
) -> None:
    node.attrs.update(in_channels=in_channels, cmap_dim=cmap_dim, resolution=resolution)
    node.attrs.update(img_channels=img_channels, architecture=architecture)
    if architecture == "skip":
        node.children["fromrgb"] = conv2d(img_channels, in_channels, kernel_size=1, activation=activation)
    if mbstd_num_channels > 0:
        node.children["mbstd"] = minibatch_std(group_size=mbstd_group_size, num_channels=mbstd_num_channels)
    else:
        node.attrs["mbstd"] = None
    node.children["conv"] = conv2d(
        in_channels + mbstd_num_channels,
        in_channels,
        kernel_size=3,
        activation=activation,
        conv_clamp=conv_clamp,
    )
    node.children["fc"] = fully_connected(in_channels * resolution**2, in_channels, activation=activation)
    node.children["out"] = fully_connected(in_channels, 1 if cmap_dim == 0 else cmap_dim)


@_persistent_class("Discriminator")
def discriminator(
    node: Node,
    c_dim: int,
    img_resolution: int,
    img_channels: int,
    architecture: str = "resnet",
    channel_base: int = 32768,
    channel_max: int = 512,
    num_fp16_res: int = 0,
    conv_clamp: Any = None,
    cmap_dim: int | None = None,
    block_kwargs: Mapping[str, Any] | None = None,
    mapping_kwargs: Mapping[str, Any] | None = None,
    epilogue_kwargs: Mapping[str, Any] | None = None,
) -> None:
    log2 = int(np.log2(img_resolution))
    resolutions = [2**i for i in range(log2, 2, -1)]
    node.attrs.update(c_dim=c_dim, img_resolution=img_resolution, img_resolution_log2=log2)
    node.attrs.update(img_channels=img_channels, block_resolutions=resolutions)
    channels = {res: min(channel_base // res, channel_max) for res in [*resolutions, 4]}
    fp16_resolution = max(2 ** (log2 + 1 - num_fp16_res), 8)
    cmap = 0 if c_dim == 0 else (channels[4] if cmap_dim is None else cmap_dim)
    common = dict(img_channels=img_channels, architecture=architecture, conv_clamp=conv_clamp)
    layer_idx = 0
    for res in resolutions:
        block = discriminator_block(
            channels[res] if res < img_resolution else 0, channels[res], channels[res // 2], resolution=res,
            first_layer_idx=layer_idx, use_fp16=res >= fp16_resolution, **(block_kwargs or {}), **common,
        )  # fmt: skip
        node.children[f"b{res}"] = block
        layer_idx += block.attrs["num_layers"]
    if c_dim > 0:
        node.children["mapping"] = mapping_network(
            z_dim=0, c_dim=c_dim, w_dim=cmap, num_ws=None, w_avg_beta=None, **(mapping_kwargs or {})
        )
    node.children["b4"] = discriminator_epilogue(
        channels[4], cmap_dim=cmap, resolution=4, **(epilogue_kwargs or {}), **common
    )


# train.py's --augpipe=bgc: blit, geometric and color transformations.
AUGPIPE_BGC = dict(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1,
                   brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)  # fmt: skip
# AugmentPipe's float options and their defaults (the constructor stores each as float(value)).
_AUGMENT_DEFAULTS = dict(
    xflip=0, rotate90=0, xint=0, xint_max=0.125, scale=0, rotate=0, aniso=0, xfrac=0, scale_std=0.2,
    rotate_max=1, aniso_std=0.2, xfrac_std=0.125, brightness=0, contrast=0, lumaflip=0, hue=0, saturation=0,
    brightness_std=0.2, contrast_std=0.5, hue_max=1, saturation_std=1, imgfilter=0, imgfilter_std=1, noise=0,
    cutout=0, noise_std=0.1, cutout_size=0.5,
)  # fmt: skip


def augment_pipe(p: float, **kwargs: Any) -> tuple[Node, dict[str, torch.Tensor]]:
    """``training.augment.AugmentPipe(**kwargs)`` with probability ``p``, and its buffers (``p``, the
    wavelet ``Hz_geom [12]`` and filter bank ``Hz_fbank [4, 43]``; values here are arbitrary)."""
    node = Node("AugmentPipe", (), copy.deepcopy(kwargs), buffers=["p", "Hz_geom", "Hz_fbank"])
    node.attrs = {key: float(kwargs.get(key, default)) for key, default in _AUGMENT_DEFAULTS.items()}
    node.attrs["imgfilter_bands"] = list(kwargs.get("imgfilter_bands", [1, 1, 1, 1]))
    generator_ = torch.Generator().manual_seed(0)
    buffers = {
        "p": torch.tensor(float(p)),
        "Hz_geom": torch.randn([12], generator=generator_),
        "Hz_fbank": torch.randn([4, 43], generator=generator_),
    }
    return node, buffers


def _module_state() -> dict[str, Any]:
    """torch's own ``nn.Module.__dict__`` bookkeeping (hooks, buffer sets) in eval mode."""
    return {key: copy.copy(value) for key, value in nn.Module().eval().__dict__.items()}


def persistent(node: Node, tensors: Mapping[str, torch.Tensor], prefix: str = "") -> _Persistent:
    """The pickled form of ``node`` with tensors ``tensors[prefix + name]`` (parameters without gradient)."""
    state = _module_state()
    state["_parameters"] = {
        name: nn.Parameter(tensors[prefix + name].detach().clone(), requires_grad=False)
        for name in node.params
    }
    state["_buffers"] = {name: tensors[prefix + name].detach().clone() for name in node.buffers}
    state["_modules"] = {
        name: persistent(child, tensors, f"{prefix}{name}.") for name, child in node.children.items()
    }
    state.update(node.attrs)
    state.update(_init_args=node.args, _init_kwargs=node.kwargs)
    return _Persistent(
        dict(type="class", version=6, module_src=MODULE_SRC, class_name=node.class_name, state=state)
    )


def ada_snapshot(
    G: nn.Module,
    D: nn.Module,
    G_ema: nn.Module,
    g_kwargs: Mapping[str, Any],
    d_kwargs: Mapping[str, Any],
    training_set_kwargs: Mapping[str, Any] | None,
    augment_p: float | None = 0.25,
) -> dict[str, Any]:
    """The dict ``training_loop.py`` pickles: ``g_kwargs`` / ``d_kwargs`` are the constructor kwargs as
    ``construct_class_by_name(**G_kwargs, **common_kwargs)`` passes them (EasyDicts inside); tensors come
    from our ``G``, ``D``, ``G_ema``; ``augment_p=None`` = no augmentation pipe (``--aug=noaug``)."""
    data: dict[str, Any] = {
        "training_set_kwargs": None if training_set_kwargs is None else dict(training_set_kwargs)
    }
    for key, net, make, kwargs in (
        ("G", G, generator, g_kwargs),
        ("D", D, discriminator, d_kwargs),
        ("G_ema", G_ema, generator, g_kwargs),
    ):
        data[key] = persistent(make(**kwargs), net.state_dict())
    data["augment_pipe"] = None
    if augment_p is not None:
        node, buffers = augment_pipe(augment_p, **AUGPIPE_BGC)
        data["augment_pipe"] = persistent(node, buffers)
    return data


def legacy_conversion(
    G: nn.Module, D: nn.Module, G_ema: nn.Module, g_kwargs: Mapping[str, Any], d_kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """What ``legacy.py`` writes for a TF pickle: ``dict(G, D, G_ema)`` of networks built with ``**kwargs``
    from :func:`legacy_generator_kwargs` / :func:`legacy_discriminator_kwargs`, no augmentation pipe and no
    training set kwargs (both None)."""
    data = ada_snapshot(G, D, G_ema, g_kwargs, d_kwargs, training_set_kwargs=None, augment_p=None)
    return {key: data[key] for key in ("G", "D", "G_ema", "training_set_kwargs", "augment_pipe")}


def legacy_generator_kwargs(tf: Mapping[str, Any]) -> EasyDict:
    """legacy.py's generator kwargs for TF static kwargs ``tf`` (its defaults when a key is absent)."""
    return EasyDict(
        z_dim=tf.get("latent_size", 512), c_dim=tf.get("label_size", 0), w_dim=tf.get("dlatent_size", 512),
        img_resolution=tf.get("resolution", 1024), img_channels=tf.get("num_channels", 3),
        mapping_kwargs=EasyDict(
            num_layers=tf.get("mapping_layers", 8), embed_features=tf.get("label_fmaps"),
            layer_features=tf.get("mapping_fmaps"), activation=tf.get("mapping_nonlinearity", "lrelu"),
            lr_multiplier=tf.get("mapping_lrmul", 0.01),
            w_avg_beta=1 if tf.get("w_avg_beta", 0.995) is None else tf.get("w_avg_beta", 0.995),
        ),
        synthesis_kwargs=EasyDict(
            channel_base=tf.get("fmap_base", 16384) * 2, channel_max=tf.get("fmap_max", 512),
            num_fp16_res=tf.get("num_fp16_res", 0), conv_clamp=tf.get("conv_clamp"),
            architecture=tf.get("architecture", "skip"),
            resample_filter=tf.get("resample_kernel", [1, 3, 3, 1]),
            use_noise=tf.get("use_noise", True), activation=tf.get("nonlinearity", "lrelu"),
        ),
    )  # fmt: skip


def legacy_discriminator_kwargs(tf: Mapping[str, Any]) -> EasyDict:
    """legacy.py's discriminator kwargs for TF static kwargs ``tf``: note ``mapping_kwargs.num_layers = 0``
    unless the TF D had mapping layers, and ``mbstd_group_size`` None unless the TF kwargs name one."""
    return EasyDict(
        c_dim=tf.get("label_size", 0), img_resolution=tf.get("resolution", 1024),
        img_channels=tf.get("num_channels", 3), architecture=tf.get("architecture", "resnet"),
        channel_base=tf.get("fmap_base", 16384) * 2, channel_max=tf.get("fmap_max", 512),
        num_fp16_res=tf.get("num_fp16_res", 0), conv_clamp=tf.get("conv_clamp"),
        cmap_dim=tf.get("mapping_fmaps"),
        block_kwargs=EasyDict(
            activation=tf.get("nonlinearity", "lrelu"),
            resample_filter=tf.get("resample_kernel", [1, 3, 3, 1]),
            freeze_layers=tf.get("freeze_layers", 0),
        ),
        mapping_kwargs=EasyDict(
            num_layers=tf.get("mapping_layers", 0), embed_features=tf.get("mapping_fmaps"),
            layer_features=tf.get("mapping_fmaps"), activation=tf.get("nonlinearity", "lrelu"),
            lr_multiplier=tf.get("mapping_lrmul", 0.1),
        ),
        epilogue_kwargs=EasyDict(
            mbstd_group_size=tf.get("mbstd_group_size"), mbstd_num_channels=tf.get("mbstd_num_features", 1),
            activation=tf.get("nonlinearity", "lrelu"),
        ),
    )  # fmt: skip


# ----------------------------------------------------------------------------------------------------------
# TF network pickles.


@dataclass(frozen=True)
class TFFamily:
    """How one TF code base pickles ``(G, D, Gs)``: ``Network.__getstate__`` version, the pickle protocol
    (stylegan/stylegan2: ``pickle.HIGHEST_PROTOCOL`` under Python 3.6 = 4; stylegan2-ada: ``pickle.dump``'s
    default under Python 3.7 = 3) and whether the state lists input/output shapes and names (version 5)."""

    version: int
    protocol: int
    io_fields: bool


TF_FAMILIES: dict[str, TFFamily] = {
    "stylegan": TFFamily(version=3, protocol=4, io_fields=False),  # NVlabs/stylegan: karras2019stylegan-*
    "stylegan2": TFFamily(version=4, protocol=4, io_fields=False),  # NVlabs/stylegan2: stylegan2-*-config-*
    "stylegan2-ada": TFFamily(version=5, protocol=3, io_fields=True),  # NVlabs/stylegan2-ada: pretrained/*
}


def _tf_io(func: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Version-5 input/output shapes and names of the ADA TF build functions (None = minibatch axis)."""
    res, ch, c = kwargs.get("resolution", 1024), kwargs.get("num_channels", 3), kwargs.get("label_size", 0)
    z, w = kwargs.get("latent_size", 512), kwargs.get("dlatent_size", 512)
    num_ws = 2 * int(np.log2(res)) - 2
    image, labels = [None, ch, res, res], [None, c]
    table: dict[str, tuple[list[str], list[Any], list[str], list[Any]]] = {
        "G_main": (["latents_in", "labels_in"], [[None, z], labels], ["images_out"], [image]),
        "G_mapping": (
            ["latents_in", "labels_in"],
            [[None, z], labels],
            ["dlatents_out"],
            [[None, num_ws, w]],
        ),
        "G_synthesis": (["dlatents_in"], [[None, num_ws, w]], ["images_out"], [image]),
        "D_main": (["images_in", "labels_in"], [image, labels], ["scores_out"], [[None, 1]]),
    }
    in_names, in_shapes, out_names, out_shapes = table[func]
    return dict(
        input_shapes=in_shapes, output_shapes=out_shapes, input_names=in_names, output_names=out_names
    )


def tf_network_state(
    family: str,
    name: str,
    func: str,
    kwargs: Mapping[str, Any],
    variables: Mapping[str, np.ndarray],
    components: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``Network.__getstate__()`` of ``family`` (components still as state dicts; see :func:`tf_networks`).
    0-d variables become numpy scalars, as TF's ``session.run`` returns them."""
    spec = TF_FAMILIES[family]
    state: dict[str, Any] = {
        "version": spec.version,
        "name": name,
        "static_kwargs": dict(kwargs),
        "components": dict(components or {}),
        "build_module_src": MODULE_SRC,
        "build_func_name": func,
        "variables": [(key, value[()] if value.ndim == 0 else value) for key, value in variables.items()],
    }
    if spec.io_fields:
        state.update(_tf_io(func, kwargs))
    return state


def tf_networks(state: dict[str, Any]) -> TFNetwork:
    """A state from :func:`tf_network_state` as a ``Network`` object, components included (plain dicts)."""
    components = {key: tf_networks(value) for key, value in state["components"].items()}
    return TFNetwork({**state, "components": components})


def write_tf_pickle(
    path: Path,
    *states: dict[str, Any],
    family: str,
    numpy_spelling: str = "numpy1",
    protocol: int | None = None,
) -> Path:
    """Pickle ``(G, D, Gs)`` (three states) or a single network as ``family``'s training loop does (NVIDIA's
    TF files were written with NumPy 1, hence the default spelling)."""
    nets = [tf_networks(state) for state in states]
    obj = tuple(nets) if len(nets) > 1 else nets[0]
    return write_pickle(
        path, obj, TF_FAMILIES[family].protocol if protocol is None else protocol, numpy_spelling
    )
