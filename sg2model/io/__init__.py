"""Network files: ``save_network`` writes our ``.sg2`` format; ``load_network`` reads it and foreign pickles.

``load_network`` sniffs the file: safetensors -> our format; a pickle naming ``torch_utils.persistence`` ->
stylegan2-ada-pytorch (:mod:`sg2model.io.ada_pickle`); a pickle naming ``dnnlib.tflib`` -> the official
TensorFlow format (``sg2model.io.tf_convert.read_tf_networks``, looked up in :data:`READERS`). Pickles are
always read with a restricted unpickler that never runs code stored in the file; every size a file claims is
checked against its bytes before memory is allocated (:mod:`sg2model.io.network_limits`), and a damaged file
ends in one :class:`Sg2Error` line.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from sg2model.core.errors import Sg2Error
from sg2model.core.files import sha256_file
from sg2model.io.native import write_native
from sg2model.io.untrusted import reading_untrusted

Reader = Callable[[Path], tuple[dict[str, nn.Module], dict[str, Any]]]

# source_format -> (module, function) reading that format: path -> (networks by key, metadata).
READERS: dict[str, tuple[str, str]] = {
    "sg2": ("sg2model.io.native", "read_native"),
    "ada-pkl": ("sg2model.io.ada_pickle", "read_ada_pickle"),
    "tf-pkl": ("sg2model.io.tf_convert", "read_tf_networks"),
}
# Byte strings whose presence near the start of a pickle tells which code wrote it.
PICKLE_MARKERS: tuple[tuple[bytes, str], ...] = ((b"torch_utils", "ada-pkl"), (b"dnnlib.tflib", "tf-pkl"))
_SNIFF_BYTES = 1 << 20


@dataclass(frozen=True)
class NetworkBundle:
    """What a network file holds (CONTRACTS.md): networks, metadata, the format read and the file's hash."""

    G: nn.Module | None
    D: nn.Module | None
    G_ema: nn.Module | None
    meta: dict[str, Any] = field(default_factory=dict)
    source_format: str = "sg2"  # 'sg2' | 'ada-pkl' | 'tf-pkl'
    sha256: str = ""

    @property
    def generator(self) -> nn.Module:
        """``G_ema`` when present (the network the papers evaluate), else ``G``."""
        net = self.G_ema if self.G_ema is not None else self.G
        if net is None:
            raise Sg2Error("this network file holds no generator (only D); pass a file with G or G_ema")
        return net


def detect_format(path: str | os.PathLike[str]) -> str:
    """'sg2', 'ada-pkl' or 'tf-pkl' from the file's first bytes; anything else raises Sg2Error."""
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    # safetensors: an 8-byte little-endian header length, then the JSON header.
    header_bytes = int.from_bytes(head[:8], "little")
    if len(head) > 9 and head[8:9] == b"{" and 8 + header_bytes <= os.path.getsize(path):
        return "sg2"
    if head[:1] == b"\x80":
        for marker, kind in PICKLE_MARKERS:
            if marker in head:
                return kind
        raise Sg2Error(
            f"{path} is a pickle but neither a stylegan2-ada-pytorch nor a StyleGAN2 TF network"
        )
    raise Sg2Error(f"{path} is neither an .sg2 network file nor a StyleGAN network pickle")


def save_network(
    path: str | os.PathLike[str],
    G: nn.Module | None = None,
    D: nn.Module | None = None,
    G_ema: nn.Module | None = None,
    **meta: Any,
) -> Path:
    """Write the given networks and JSON-able ``meta`` as an ``.sg2`` file (atomic); returns the path."""
    nets = {key: net for key, net in (("G", G), ("D", D), ("G_ema", G_ema)) if net is not None}
    return write_native(Path(path), nets, meta)


def load_network(path: str | os.PathLike[str]) -> NetworkBundle:
    """Read an ``.sg2`` file or a stylegan2-ada-pytorch / TF pickle (never running code from it)."""
    file = Path(path)
    if not file.is_file():
        raise Sg2Error(f"network file {file} does not exist; check the path")
    kind = detect_format(file)
    module_name, function = READERS[kind]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise Sg2Error(f"{file} is a {kind} file, which this sg2model build cannot read yet") from exc
    reader: Reader = getattr(module, function)
    with reading_untrusted(file):
        networks, meta = reader(file)
    return NetworkBundle(
        G=networks.get("G"),
        D=networks.get("D"),
        G_ema=networks.get("G_ema"),
        meta=meta,
        source_format=kind,
        sha256=sha256_file(file),
    )


__all__ = ["NetworkBundle", "READERS", "detect_format", "load_network", "save_network"]
