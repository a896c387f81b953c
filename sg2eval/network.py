"""The one way the evaluation layer opens a network: a file or an in-memory module -> :class:`NetworkHandle`.

Every metric, the projector, attribution, the reports, the demo and the ``info``/``convert`` commands take a
network through :func:`open_network`, so all of them evaluate the same generator (``G_ema`` when the file
has one, in eval mode, gradients off, on the resolved device) and record it under the same provenance keys
(:meth:`NetworkHandle.describe`): ``path``, ``sha256`` (of the file's bytes; for a module, of its state),
``format`` (``sg2``, ``ada-pkl``, ``tf-pkl`` or ``module``).

:func:`describe_file` and :func:`convert_network` are what ``sg2eval info`` and ``sg2eval convert`` print and
do (docs/official_networks.md).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sg2eval.errors import Sg2evalError
from sg2model.core.device import resolve_device, same_device
from sg2model.io import NetworkBundle, load_network, save_network

NetworkLike = str | os.PathLike[str] | nn.Module
ORIGINS = {"tf-pkl": "TensorFlow", "ada-pkl": "PyTorch (stylegan2-ada-pytorch)", "sg2": "sg2model"}


@dataclass(frozen=True)
class NetworkHandle:
    """An opened network: the generator to evaluate and where it came from."""

    generator: Any  # nn.Module (or a generator-like object), eval mode, no gradients, on ``device``
    device: torch.device
    sha256: str
    source_format: str  # 'sg2' | 'ada-pkl' | 'tf-pkl' | 'module'
    path: Path | None = None

    def describe(self) -> dict[str, Any]:
        """Provenance of the network (the ``network`` entry of a result)."""
        return {"path": None if self.path is None else str(self.path), "sha256": self.sha256,
                "format": self.source_format}  # fmt: skip

    @property
    def label(self) -> str:
        """How messages name the network: its path, else ``'the given module'``."""
        return str(self.path) if self.path is not None else "the given module"


def module_sha256(module: Any) -> str:
    """SHA-256 of a generator object's class name and, for a module, its parameters and buffers (names,
    shapes, dtypes, bytes)."""
    digest = hashlib.sha256(type(module).__qualname__.encode())
    state = module.state_dict() if callable(getattr(module, "state_dict", None)) else {}
    for name, tensor in sorted(state.items()):
        value = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{tuple(value.shape)}:{value.dtype}".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return digest.hexdigest()


def module_device(module: Any) -> torch.device:
    """The device of a module's first parameter (the CPU for modules without parameters)."""
    params = getattr(module, "parameters", None)
    first = next(iter(params()), None) if callable(params) else None
    return first.device if first is not None else torch.device("cpu")


def open_network(
    network: NetworkLike | NetworkHandle | Any, device: str | torch.device | None = "auto"
) -> NetworkHandle:
    """Open ``network`` for evaluation on ``device``.

    A file (``.sg2``, stylegan2-ada-pytorch or TF pickle) is loaded, its ``G_ema`` (else ``G``) put in eval
    mode without gradients on ``device``. A generator object (an ``nn.Module`` from a training loop, a
    StyleGAN (v1) generator, a test double) is used as it is, never moved or changed: ``device`` 'auto'
    means its own device, and any other device must be that one. A handle on another device is moved.
    """
    if isinstance(network, (str, os.PathLike)):
        target = resolve_device(device)
        path = Path(network)
        if not path.is_file():
            raise Sg2evalError(f"network file {path} does not exist; give a .sg2 or .pkl network file")
        bundle = load_network(path)
        generator = bundle.generator.eval().requires_grad_(False).to(target)
        return NetworkHandle(generator, target, bundle.sha256, bundle.source_format, path)
    if isinstance(network, NetworkHandle):
        target = resolve_device(device)
        if same_device(network.device, target):
            return network
        return dataclasses.replace(network, generator=network.generator.to(target), device=target)
    own = module_device(network)
    if device not in (None, "auto") and not same_device(resolve_device(device), own):
        raise Sg2evalError(
            f"the generator is on {own} but device {device} was asked for; move it there first (G.to(...))"
        )
    return NetworkHandle(network, own, module_sha256(network), "module")


# ----------------------------------------------------------------------------------------------------------
# What a file holds (``sg2eval info``) and conversion to .sg2 (``sg2eval convert``).


def describe_module(key: str, net: nn.Module) -> dict[str, Any]:
    """One network of a file: its key, class, preset, resolution, parameter and buffer counts, config."""
    spec = getattr(net, "config", None)
    return {
        "network": key,
        "class": type(net).__name__,
        "preset": getattr(spec, "preset", None),
        "resolution": getattr(net, "img_resolution", None),
        "parameters": sum(p.numel() for p in net.parameters()),
        "buffers": sum(b.numel() for b in net.buffers()),
        "config": dataclasses.asdict(spec)
        if dataclasses.is_dataclass(spec) and not isinstance(spec, type)
        else None,
    }


def describe_file(path: str | os.PathLike[str], bundle: NetworkBundle | None = None) -> dict[str, Any]:
    """JSON-able summary of a network file: hash, format, origin, converted-from hash, TF architectures,
    one :func:`describe_module` row per network, the stored render fingerprint."""
    bundle = bundle if bundle is not None else load_network(path)
    origin = bundle.meta.get("source_format", bundle.source_format)
    networks = [
        describe_module(k, getattr(bundle, k)) for k in ("G", "D", "G_ema") if getattr(bundle, k) is not None
    ]
    return {
        "file": str(path),
        "sha256": bundle.sha256,
        "format": bundle.source_format,
        "origin": ORIGINS.get(origin, origin),
        "source_sha256": bundle.meta.get("source_sha256"),
        "tf_architectures": {k: v.get("architecture") for k, v in bundle.meta.get("tf", {}).items()},
        "networks": networks,
        "fingerprint": bundle.meta.get("fingerprint"),
    }


@dataclass(frozen=True)
class Conversion:
    """What :func:`convert_network` wrote."""

    out: Path
    kept: tuple[str, ...]  # 'G', 'D', 'G_ema'
    source_format: str
    fingerprint: dict[str, Any] | None


def convert_network(
    source: str | os.PathLike[str], out: str | os.PathLike[str], fingerprint: bool = True
) -> Conversion:
    """Convert any network file sg2model reads to ``.sg2`` (atomic), keeping the source's provenance (format,
    SHA-256, TF build functions) and, with ``fingerprint``, a render fingerprint of the generator (fixed
    seeds, constant noise) that ``sg2eval info --verify`` checks later."""
    from sg2model.io.tf_convert import render_fingerprint

    source, out = Path(source), Path(out)
    if out.suffix != ".sg2":
        raise Sg2evalError(f"--out {out} should end in .sg2 (our network format)")
    bundle = load_network(source)
    meta = dict(bundle.meta)
    meta.update(source_file=source.name, source_format=bundle.source_format, source_sha256=bundle.sha256)
    if fingerprint and (bundle.G is not None or bundle.G_ema is not None):
        meta["fingerprint"] = render_fingerprint(bundle.generator)
    save_network(out, G=bundle.G, D=bundle.D, G_ema=bundle.G_ema, **meta)
    kept = tuple(key for key in ("G", "D", "G_ema") if getattr(bundle, key) is not None)
    return Conversion(out, kept, bundle.source_format, meta.get("fingerprint"))
