"""Our network file format (``.sg2``): one safetensors file, no pickle.

Tensors are stored as ``{G|D|G_ema}.<state-dict name>`` (stylegan2-ada-pytorch names). The safetensors
metadata (string -> string) holds ``format = 'sg2model-network'``, ``format_version``, ``networks`` (JSON:
key -> spec dict from :func:`sg2model.configs.spec_to_dict`) and ``meta`` (JSON of the caller's keywords).
Files are written to a temporary name and renamed (``sg2model.core.files.atomic_path``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from sg2model.configs import DiscriminatorSpec, GeneratorSpec, spec_from_dict, spec_to_dict
from sg2model.core.errors import Sg2Error
from sg2model.core.files import atomic_path
from sg2model.io.ada_pickle import load_state_strict
from sg2model.networks import Discriminator, Generator, stylegan1

FORMAT_NAME = "sg2model-network"
FORMAT_VERSION = "1"
NETWORK_KEYS = ("G", "D", "G_ema")
# spec class -> network builder; other network families add theirs (with configs.register_spec_kind).
NETWORK_BUILDERS: dict[type, Callable[[Any], nn.Module]] = {
    GeneratorSpec: Generator.from_spec,
    DiscriminatorSpec: Discriminator.from_spec,
    stylegan1.StyleGAN1GeneratorSpec: stylegan1.StyleGAN1Generator.from_spec,  # TF config A / StyleGAN v1
    stylegan1.StyleGAN1DiscriminatorSpec: stylegan1.StyleGAN1Discriminator.from_spec,
}


def write_native(path: str | Path, networks: dict[str, nn.Module], meta: dict[str, Any]) -> Path:
    """Write ``networks`` (keys among G, D, G_ema) and JSON-able ``meta`` to ``path``."""
    if not networks:
        raise Sg2Error("save_network got no network; pass G=..., D=... and/or G_ema=...")
    tensors: dict[str, torch.Tensor] = {}
    configs: dict[str, Any] = {}
    for key, net in networks.items():
        spec = getattr(net, "config", None)
        if type(spec) not in NETWORK_BUILDERS:
            raise Sg2Error(f"{key} is a {type(net).__name__}, not an sg2model Generator/Discriminator")
        configs[key] = spec_to_dict(spec)
        for name, tensor in net.state_dict().items():
            tensors[f"{key}.{name}"] = tensor.detach().to("cpu").contiguous()
    try:
        meta_json = json.dumps(meta)
    except TypeError as exc:
        raise Sg2Error(f"save_network metadata must be JSON-serializable ({exc})") from exc
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "networks": json.dumps(configs),
        "meta": meta_json,
    }
    target = Path(path)
    with atomic_path(target) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return target


def read_native(path: Path) -> tuple[dict[str, nn.Module], dict[str, Any]]:
    """Networks and metadata of a ``.sg2`` file, rebuilt from its configs with weights loaded strictly."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError) as exc:
        raise Sg2Error(f"{path} is not a readable safetensors file ({exc})") from exc
    if metadata.get("format") != FORMAT_NAME:
        raise Sg2Error(
            f"{path} is a safetensors file but not an sg2model network (no format={FORMAT_NAME!r})"
        )
    if metadata.get("format_version") != FORMAT_VERSION:
        raise Sg2Error(
            f"{path} has network format version {metadata.get('format_version')}; this sg2model reads "
            f"{FORMAT_VERSION}: upgrade sg2model"
        )
    networks: dict[str, nn.Module] = {}
    for key, config in json.loads(metadata["networks"]).items():
        spec = spec_from_dict(config)
        net = NETWORK_BUILDERS[type(spec)](spec)
        prefix = f"{key}."
        state = {name[len(prefix) :]: t for name, t in tensors.items() if name.startswith(prefix)}
        load_state_strict(net, state, f"{path} [{key}]")
        networks[key] = net.eval()
    return networks, json.loads(metadata.get("meta", "{}"))
