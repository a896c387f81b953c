"""Read stylegan2-ada-pytorch network pickles without running the code they carry.

docs/facts.md, "Pickle persistence of stylegan2-ada-pytorch": ``training_loop.py`` pickles a dict ``{G, D,
G_ema, augment_pipe, training_set_kwargs}`` (``legacy.py`` writes the same keys, with ``augment_pipe`` and
``training_set_kwargs`` None). Every module of ``training/networks.py`` and ``training/augment.py`` is a
persistent class, reduced to ``torch_utils.persistence._reconstruct_persistent_obj(meta)`` with ``meta =
dict(type='class', version=6, module_src=..., class_name=..., state=module.__dict__)``; ``state`` holds
``_init_args``, ``_init_kwargs``, ``_parameters``, ``_buffers``, ``_modules`` and the layers' own attributes,
some of them numpy float64 scalars (``weight_gain = lr_multiplier / np.sqrt(in_features)``).

We never look at ``module_src``: the init kwargs are mapped to our specs, our networks are built from them and
the parameters/buffers (same names) are loaded strictly. ``augment_pipe`` stays an inert record (its class
name and augmentation probability ``p`` go to the metadata).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from torch import nn

from sg2model.configs import (
    DiscriminatorSpec,
    GeneratorSpec,
    MappingSpec,
    build_generator_spec,
    replace_fields,
)
from sg2model.core.errors import Sg2Error
from sg2model.io.network_limits import build_for_file
from sg2model.io.pickled_tensors import TENSOR_GLOBALS
from sg2model.io.restricted_unpickler import CONTAINER_GLOBALS, NUMPY_SCALAR_GLOBALS, RestrictedUnpickler
from sg2model.networks import Discriminator, Generator

PERSISTENCE_GLOBAL = ("torch_utils.persistence", "_reconstruct_persistent_obj")
NETWORK_KEYS = ("G", "D", "G_ema")
# Positional order of ada's constructors, for ``_init_args``.
_G_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs")
_D_ARGS = (
    "c_dim",
    "img_resolution",
    "img_channels",
    "architecture",
    "channel_base",
    "channel_max",
    "num_fp16_res",
    "conv_clamp",
    "cmap_dim",
    "block_kwargs",
    "mapping_kwargs",
    "epilogue_kwargs",
)
# Options that only change memory layout or training (not the function a network computes).
_LAYOUT_ONLY = ("fp16_channels_last", "freeze_layers")


@dataclasses.dataclass(frozen=True)
class PersistentRecord:
    """What ``_reconstruct_persistent_obj(meta)`` stood for: a class name and the object's state."""

    class_name: str
    state: dict[str, Any]


class EasyDict(dict[str, Any]):
    """Stand-in for ``dnnlib.util.EasyDict`` (a plain dict subclass) in init kwargs."""


def _reconstruct_persistent_obj(meta: Any) -> PersistentRecord:
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
        raise Sg2Error(
            "the pickle holds a persistent object of an unknown kind; it is not an ada-pytorch network"
        )
    return PersistentRecord(class_name=str(meta.get("class_name")), state=meta["state"])


class AdaUnpickler(RestrictedUnpickler):
    """Allows what real snapshots name: tensors, containers, ada's persistence record, ``EasyDict`` and
    numpy scalars (both module spellings)."""

    ALLOWED = {
        **TENSOR_GLOBALS,
        **CONTAINER_GLOBALS,
        **NUMPY_SCALAR_GLOBALS,
        PERSISTENCE_GLOBAL: _reconstruct_persistent_obj,
        ("dnnlib.util", "EasyDict"): EasyDict,
    }

    def __init__(self, file: IO[bytes], source: str) -> None:
        super().__init__(file, self.ALLOWED, source)


def _state(obj: Any) -> dict[str, Any]:
    if isinstance(obj, PersistentRecord):
        return obj.state
    raise Sg2Error(
        f"a submodule inside an ada-pytorch network is a {type(obj).__name__}, not a persistent module; "
        "the pickle is not supported"
    )


def flatten_state(obj: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    """State dict (``name -> tensor``) of a pickled module tree: parameters and persistent buffers."""
    state = _state(obj)
    out: dict[str, torch.Tensor] = {}
    skip = set(state.get("_non_persistent_buffers_set", ()))
    for group in ("_parameters", "_buffers"):
        for name, tensor in (state.get(group) or {}).items():
            if tensor is not None and name not in skip:
                out[prefix + name] = tensor.detach()
    for name, child in (state.get("_modules") or {}).items():
        if child is not None:
            out.update(flatten_state(child, f"{prefix}{name}."))
    return out


def _as_dict(value: Any) -> Any:
    """EasyDicts and OrderedDicts -> plain dicts, numpy scalars -> Python numbers, recursively (JSON-able;
    ``legacy.py`` copies TF static kwargs, which may be numpy scalars, into the init kwargs)."""
    if isinstance(value, Mapping):
        return {str(k): _as_dict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_dict(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _init_kwargs(record: PersistentRecord, arg_names: tuple[str, ...]) -> dict[str, Any]:
    args = tuple(record.state.get("_init_args") or ())
    kwargs = dict(zip(arg_names, args, strict=False))
    kwargs.update(_as_dict(record.state.get("_init_kwargs") or {}))
    return kwargs


def _pop_activation(options: dict[str, Any], where: str) -> None:
    activation = options.pop("activation", "lrelu")
    if activation != "lrelu":
        raise Sg2Error(f"{where} uses activation {activation!r}; sg2model networks support 'lrelu' only")


def generator_spec_from_ada(kwargs: Mapping[str, Any]) -> GeneratorSpec:
    """Map ada's ``Generator(z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs,
    synthesis_kwargs)`` init kwargs to a :class:`GeneratorSpec`."""
    synthesis = dict(kwargs.get("synthesis_kwargs") or {})
    for key in _LAYOUT_ONLY:
        synthesis.pop(key, None)
    _pop_activation(synthesis, "the generator")
    if "resample_filter" in synthesis:
        synthesis["resample_filter"] = tuple(synthesis["resample_filter"])
    return build_generator_spec(
        int(kwargs["img_resolution"]),
        z_dim=int(kwargs["z_dim"]),
        c_dim=int(kwargs["c_dim"]),
        w_dim=int(kwargs["w_dim"]),
        img_channels=int(kwargs["img_channels"]),
        mapping_kwargs=dict(kwargs.get("mapping_kwargs") or {}),
        **synthesis,
    )


def discriminator_spec_from_ada(kwargs: Mapping[str, Any]) -> DiscriminatorSpec:
    """Map ada's ``Discriminator(c_dim, img_resolution, img_channels, architecture, channel_base, ...,
    block_kwargs, mapping_kwargs, epilogue_kwargs)`` init kwargs to a :class:`DiscriminatorSpec`."""
    options = dict(kwargs)
    block = dict(options.pop("block_kwargs", None) or {})
    epilogue = dict(options.pop("epilogue_kwargs", None) or {})
    mapping = dict(options.pop("mapping_kwargs", None) or {})
    if not options.get("c_dim"):
        mapping = {}  # ada builds no label mapping then (legacy.py still records num_layers=0 for it)
    for key in _LAYOUT_ONLY:
        block.pop(key, None)
    _pop_activation(block, "the discriminator")
    _pop_activation(epilogue, "the discriminator epilogue")
    if "resample_filter" in block:
        options["resample_filter"] = tuple(block.pop("resample_filter"))
    options.update(epilogue)  # mbstd_group_size, mbstd_num_channels
    if block:
        raise Sg2Error(f"ada discriminator option(s) {', '.join(block)} are not supported by sg2model")
    base = DiscriminatorSpec(
        img_resolution=int(options.pop("img_resolution")),
        mapping=replace_fields(MappingSpec(w_avg_beta=None), mapping),
    )
    return replace_fields(base, options)


def build_network(key: str, record: PersistentRecord, source: str) -> nn.Module:
    """Our network equivalent to the pickled ada network ``record`` (weights loaded strictly)."""
    where = f"{source} [{key}]"
    state = flatten_state(record)
    stored = sum(tensor.numel() for tensor in state.values())
    net: nn.Module
    if record.class_name == "Generator":
        spec = generator_spec_from_ada(_init_kwargs(record, _G_ARGS))
        net = build_for_file(Generator.from_spec, spec, stored, where)
    elif record.class_name == "Discriminator":
        d_spec = discriminator_spec_from_ada(_init_kwargs(record, _D_ARGS))
        net = build_for_file(Discriminator.from_spec, d_spec, stored, where)
    else:
        raise Sg2Error(
            f"{source}: {key} is a {record.class_name!r}; sg2model reads ada Generator/Discriminator"
        )
    load_state_strict(net, state, where)
    return net.eval()


def load_state_strict(net: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """``load_state_dict(strict=True)`` with a one-line :class:`Sg2Error` on any mismatch."""
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or shapes:
        raise Sg2Error(
            f"{source} does not match the network its config describes (missing {missing[:3]}, unexpected "
            f"{unexpected[:3]}, shape mismatch {shapes[:3]}); the file may come from another architecture"
        )
    net.load_state_dict(state, strict=True)


def describe_augment_pipe(record: PersistentRecord) -> dict[str, Any]:
    """Class name, init kwargs and probability ``p`` of a pickled ``AugmentPipe`` (never run)."""
    p = (record.state.get("_buffers") or {}).get("p")
    return {
        "class_name": record.class_name,
        "init_kwargs": _as_dict(record.state.get("_init_kwargs") or {}),
        "p": float(p) if isinstance(p, torch.Tensor) and p.numel() == 1 else None,
    }


def read_ada_pickle(path: Path) -> tuple[dict[str, nn.Module], dict[str, Any]]:
    """Networks (``G``, ``D``, ``G_ema`` where present) and metadata of a stylegan2-ada-pytorch pickle."""
    source = f"ada pickle {path}"
    with open(path, "rb") as handle:
        data = AdaUnpickler(handle, source).load()
    if not isinstance(data, dict) or not any(isinstance(data.get(k), PersistentRecord) for k in NETWORK_KEYS):
        raise Sg2Error(
            f"{source} holds no G, D or G_ema network; is it a stylegan2-ada-pytorch snapshot?"
        )
    nets = {
        k: build_network(k, data[k], source)
        for k in NETWORK_KEYS
        if isinstance(data.get(k), PersistentRecord)
    }
    meta: dict[str, Any] = {"has_augment_pipe": data.get("augment_pipe") is not None}
    if isinstance(data.get("augment_pipe"), PersistentRecord):
        meta["augment_pipe"] = describe_augment_pipe(data["augment_pipe"])
    if data.get("training_set_kwargs") is not None:
        meta["training_set_kwargs"] = _as_dict(data["training_set_kwargs"])
    return nets, meta
