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
from sg2model.io.network_limits import build_for_file
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
    configs = _json_object(metadata, "networks", path)
    networks: dict[str, nn.Module] = {}
    for key, config in configs.items():
        if key not in NETWORK_KEYS or not isinstance(config, dict):
            raise Sg2Error(f"{path} has a malformed network entry {key!r:.40}; the file is damaged")
        try:
            spec = spec_from_dict(config)
        except TypeError as exc:  # a required option is missing
            raise Sg2Error(f"{path} has an incomplete {key} config ({exc}); the file is damaged") from exc
        prefix = f"{key}."
        state = {name[len(prefix) :]: t for name, t in tensors.items() if name.startswith(prefix)}
        stored = sum(t.numel() for t in state.values())
        net = build_for_file(NETWORK_BUILDERS[type(spec)], spec, stored, f"{path} [{key}]")
        load_state_strict(net, state, f"{path} [{key}]")
        networks[key] = net.eval()
    return networks, _json_object(metadata, "meta", path, default="{}")


def _json_object(
    metadata: dict[str, str], key: str, path: Path, default: str | None = None
) -> dict[str, Any]:
    """The JSON object stored under ``key`` in the safetensors metadata; one-line error when it is not."""
    text = metadata.get(key, default)
    try:
        value = json.loads(text) if text is not None else None
    except json.JSONDecodeError as exc:
        raise Sg2Error(f"{path} has malformed {key!r} metadata ({exc}); the file is damaged") from exc
    if not isinstance(value, dict):
        raise Sg2Error(f"{path} has no {key!r} object in its metadata; the file is damaged")
    return value
