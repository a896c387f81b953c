"""Report cells: one metric of one row for one seed, keyed by what it was computed from, stored on disk.

A cell's key is the SHA-256 (:func:`sg2eval.cache.cache_key`) of the network file's SHA-256, the dataset's
content hash (:meth:`ImageSource.content_hash`; None for metrics that never read the dataset, e.g. PPL), the
metric name, its options and the seed. A finished cell is one JSON file ``<root>/<key[:2]>/<key>.json``
written atomically (temporary name, then rename), so an interrupted report leaves whole cells only and the
next run computes just the missing ones.

Hashing a dataset reads every image, so the hashes are memoized in ``<root>/hashes.json`` by a stat
signature (path, sizes and modification times of the file, or of every file under a folder).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sg2eval.cache import cache_key
from sg2eval.errors import Sg2evalError
from sg2model.core.files import sha256_file, write_json

#: Bumped when the way a cell is computed changes, so older cells are not reused.
CELL_FORMAT = 1


@dataclass(frozen=True)
class CellKey:
    """Everything a cell's values depend on."""

    network_sha256: str
    dataset_sha256: str | None
    metric: str
    options: dict[str, Any]
    seed: int

    @property
    def digest(self) -> str:
        return cache_key({**asdict(self), "format": CELL_FORMAT})


@dataclass(frozen=True)
class CellRecord:
    """A computed cell: headline ``values``, kept per-item arrays and the metric's provenance."""

    key: CellKey
    values: dict[str, float]
    per_item: dict[str, list[float]] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key.digest,
            "inputs": asdict(self.key),
            "values": self.values,
            "per_item": self.per_item,
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> CellRecord:
        return cls(
            CellKey(**payload["inputs"]), payload["values"], payload["per_item"], payload["provenance"]
        )


class CellStore:
    """Finished cells under ``root`` (a folder created on first write)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, key: CellKey) -> Path:
        digest = key.digest
        return self.root / digest[:2] / f"{digest}.json"

    def load(self, key: CellKey) -> CellRecord | None:
        """The stored cell, or None when absent or unreadable (an unreadable cell is computed again)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            record = CellRecord.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return record if record.key.digest == key.digest else None

    def save(self, record: CellRecord) -> Path:
        path = self.path(record.key)
        write_json(path, record.to_dict())
        return path


def stat_signature(path: Path) -> str:
    """SHA-256 of the path and the (name, size, mtime) of the file, or of every file under the folder."""
    resolved = path.resolve()
    digest = hashlib.sha256(str(resolved).encode())
    files = sorted(p for p in resolved.rglob("*") if p.is_file()) if resolved.is_dir() else [resolved]
    for file in files:
        stat = file.stat()
        digest.update(f"{file.relative_to(resolved.parent)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


class HashMemo:
    """Content hashes of files and datasets, remembered by :func:`stat_signature`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._known: dict[str, str] = {}
        if self.path.is_file():
            try:
                self._known = dict(json.loads(self.path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                self._known = {}

    def _remember(self, kind: str, path: Path, compute: Any) -> str:
        signature = f"{kind}:{stat_signature(path)}"
        if signature not in self._known:
            self._known[signature] = compute()
            write_json(self.path, self._known)
        return self._known[signature]

    def file(self, path: Path) -> str:
        """SHA-256 of a file's bytes (network files, detector weights)."""
        return self._remember("file", path, lambda: sha256_file(path))

    def dataset(self, path: Path) -> str:
        """The image source's content hash (all of its images)."""
        from sg2eval.sources import open_source

        def compute() -> str:
            source = open_source(path)
            if source.num_available is None:
                raise Sg2evalError(
                    f"dataset {path} is a network file; give an image folder, zip or .npy/.npz"
                )
            return source.content_hash()

        return self._remember("dataset", path, compute)
