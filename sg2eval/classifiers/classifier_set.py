"""A classifier set: a folder with one network file per attribute plus ``manifest.json``.

Manifest (written by :func:`write_manifest`)::

    {"format": "sg2eval-classifier-set", "format_version": 1,
     "input_resolution": 32, "input_channels": 3, "input_range": [-1, 1], "downsample": "box",
     "attributes": [{"name": "square", "file": "00-square.sg2", "output": 0, "sha256": "...",
                     "held_out_accuracy": 0.97}, ...],
     "training": {...}, "dataset": {...}}

``file`` is an ``.sg2`` network file (its ``D`` is the classifier; ``output`` picks the logit column, so one
multi-head file may serve several attributes) or an official TF pickle. Loading checks every file against its
``sha256`` and refuses a set whose files differ (mixed by an interrupted run or altered). A folder holding the
official ``celebahq-classifier-NN-<attribute>.pkl`` files needs no manifest: it is read as the 40 (or fewer)
official classifiers at 256x256, in index order.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sg2eval.classifiers.model import box_downsample
from sg2eval.errors import Sg2evalError
from sg2model.core.files import sha256_file, write_json

MANIFEST = "manifest.json"
FORMAT = "sg2eval-classifier-set"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ClassifierEntry:
    """One attribute of a set: its name, the file holding its network and which output column is its logit."""

    name: str
    file: str
    output: int = 0
    sha256: str = ""
    held_out_accuracy: float | None = None


class ClassifierSet(nn.Module):
    """``images [N, C, H, W] in [-1, 1] -> logits [N, A]``: box-downsample to the input size, run each net."""

    def __init__(
        self,
        entries: Sequence[ClassifierEntry],
        networks: dict[str, nn.Module],
        input_resolution: int,
        input_channels: int = 3,
        origin: str = "",
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if not entries:
            raise Sg2evalError("a classifier set needs at least one attribute")
        self.entries = list(entries)
        self.networks = nn.ModuleDict(
            {_key(f): net.eval().requires_grad_(False) for f, net in networks.items()}
        )
        self.input_resolution = input_resolution
        self.input_channels = input_channels
        self.origin = origin
        self.extra = dict(extra or {})

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.entries]

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] != self.input_channels:
            raise Sg2evalError(
                f"classifiers take images [N, {self.input_channels}, H, W], got {tuple(images.shape)}"
            )
        x = box_downsample(images, self.input_resolution)  # [N, C, r, r]
        outputs: dict[str, torch.Tensor] = {}
        columns = []
        for entry in self.entries:
            key = _key(entry.file)
            if key not in outputs:
                outputs[key] = self.networks[key](x).float()  # [N, out_features]
            columns.append(outputs[key][:, entry.output])
        return torch.stack(columns, dim=1)  # [N, A]

    def describe(self) -> dict[str, Any]:
        """Origin, input size and per-attribute files with hashes (for provenance)."""
        return {
            "origin": self.origin,
            "input_resolution": self.input_resolution,
            "input_channels": self.input_channels,
            "attributes": [asdict(e) for e in self.entries],
        }


class CallableClassifiers:
    """Adapter for a user callable ``images -> logits [N, A]`` with a list of attribute names."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], names: Sequence[str]) -> None:
        self.fn = fn
        self.names = list(names)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            logits = self.fn(images)
        if logits.ndim != 2 or logits.shape[1] != len(self.names):
            raise Sg2evalError(
                f"classifier callable returned {tuple(logits.shape)}; expected [N, {len(self.names)}]"
            )
        return logits

    def describe(self) -> dict[str, Any]:
        return {
            "origin": f"callable {getattr(self.fn, '__name__', type(self.fn).__name__)}",
            "attributes": self.names,
        }


def _key(file: str) -> str:
    """ModuleDict key for a file name (dots are not allowed in module names)."""
    return file.replace(".", "_")


def write_manifest(
    folder: str | os.PathLike[str],
    entries: Sequence[ClassifierEntry],
    input_resolution: int,
    input_channels: int = 3,
    **extra: Any,
) -> Path:
    """Write ``manifest.json`` into ``folder`` (atomically); entry hashes are filled in from the files."""
    root = Path(folder)
    hashed = [
        ClassifierEntry(e.name, e.file, e.output, e.sha256 or sha256_file(root / e.file), e.held_out_accuracy)
        for e in entries
    ]
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "input_resolution": input_resolution,
        "input_channels": input_channels,
        "input_range": [-1, 1],
        "downsample": "box",
        "attributes": [asdict(e) for e in hashed],
        **extra,
    }
    write_json(root / MANIFEST, payload)
    return root / MANIFEST


def _load_network_file(path: Path) -> nn.Module:
    """The classifier network in ``path``: an ``.sg2`` file's D, or an official TF pickle."""
    from sg2model.io import detect_format, load_network

    if not path.is_file():
        raise Sg2evalError(f"classifier file {path} is missing; the manifest lists it")
    if detect_format(path) == "tf-pkl":
        from sg2eval.classifiers.official import load_official_classifier

        return load_official_classifier(path)
    bundle = load_network(path)
    if bundle.D is None:
        raise Sg2evalError(f"{path} holds no D network; a classifier file stores its network as D")
    return bundle.D


def _check_file_hash(manifest: Path, path: Path, expected: str) -> None:
    """Refuse a classifier file whose SHA-256 is not the one ``manifest`` records for it."""
    if not path.is_file():
        raise Sg2evalError(f"classifier file {path} is missing; {manifest} lists it")
    if not expected:
        raise Sg2evalError(
            f"{manifest} records no sha256 for {path.name}; write the manifest with write_manifest or "
            "'sg2eval classifiers train'"
        )
    found = sha256_file(path)
    if found != expected.lower():
        raise Sg2evalError(
            f"classifier file {path} has SHA-256 {found[:16]}... but {manifest.name} records "
            f"{expected[:16]}...; the set is mixed or altered: train it again ('sg2eval classifiers train')"
        )


def _read_manifest(folder: Path, device: str | torch.device) -> ClassifierSet:
    import json

    manifest = json.loads((folder / MANIFEST).read_text())
    if manifest.get("format") != FORMAT:
        raise Sg2evalError(f"{folder / MANIFEST} is not a classifier-set manifest (format != {FORMAT!r})")
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise Sg2evalError(
            f"{folder / MANIFEST} has format_version {manifest['format_version']}; upgrade sg2eval"
        )
    fields = set(ClassifierEntry.__dataclass_fields__)
    entries = [
        ClassifierEntry(**{k: v for k, v in item.items() if k in fields}) for item in manifest["attributes"]
    ]
    for entry in entries:
        _check_file_hash(folder / MANIFEST, folder / entry.file, entry.sha256)
    networks = {e.file: _load_network_file(folder / e.file) for e in entries}
    extra = {k: v for k, v in manifest.items() if k in ("training", "dataset")}
    return ClassifierSet(
        entries,
        networks,
        int(manifest["input_resolution"]),
        int(manifest.get("input_channels", 3)),
        str(folder),
        extra,
    ).to(device)


def _read_official_folder(folder: Path, device: str | torch.device) -> ClassifierSet:
    from sg2eval.classifiers.official import (
        OFFICIAL_INPUT_RESOLUTION,
        find_official_files,
        load_official_classifier,
    )

    found = find_official_files(folder)
    entries = [ClassifierEntry(name, path.name, 0, sha256_file(path)) for _, name, path in found]
    official = {path.name: load_official_classifier(path) for _, _, path in found}
    sizes = {(net.resolution, net.img_channels) for net in official.values()}
    if len(sizes) != 1:
        raise Sg2evalError(f"the classifiers in {folder} take different input sizes {sorted(sizes)}")
    resolution, channels = sizes.pop()
    if resolution != OFFICIAL_INPUT_RESOLUTION:
        warnings.warn(
            f"classifiers in {folder} take {resolution}x{resolution} inputs, not the official 256x256",
            stacklevel=2,
        )
    networks: dict[str, nn.Module] = dict(official)
    return ClassifierSet(entries, networks, resolution, channels, str(folder)).to(device)


def load_classifier_set(
    source: Any, device: str | torch.device = "cpu"
) -> ClassifierSet | CallableClassifiers:
    """A classifier set from a folder (manifest or official pickles), an existing set, or a named callable."""
    if isinstance(source, ClassifierSet):
        return source.to(device)
    if isinstance(source, CallableClassifiers):
        return source
    if isinstance(source, (str, os.PathLike)):
        folder = Path(source)
        if (folder / MANIFEST).is_file():
            return _read_manifest(folder, device)
        if folder.is_dir():
            from sg2eval.classifiers.official import find_official_files

            if find_official_files(folder):
                return _read_official_folder(folder, device)
        raise Sg2evalError(
            f"{folder} is not a classifier set: expected a folder with {MANIFEST} or with "
            "celebahq-classifier-NN-<attribute>.pkl files (train one with 'sg2eval classifiers train')"
        )
    if callable(source) and hasattr(source, "names"):
        return CallableClassifiers(source, source.names)
    raise Sg2evalError(
        f"cannot use a {type(source).__name__} as classifiers; pass a classifier-set folder, a "
        "ClassifierSet, or a callable with a 'names' attribute"
    )
