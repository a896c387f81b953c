"""Report cells: one metric of one row for one seed, keyed by what it was computed from, stored on disk.

A cell's key is the SHA-256 (:func:`sg2eval.cache.cache_key`) of the network file's SHA-256, the dataset's
content hash (:meth:`ImageSource.content_hash`; None for metrics that never read the dataset, e.g. PPL), the
metric name, its options and the seed. A finished cell is one JSON file ``<root>/<key[:2]>/<key>.json``
written atomically (temporary name, then rename), so an interrupted report leaves whole cells only and the
next run computes just the missing ones.

The hashes are computed from the bytes on every run (:class:`ContentHashes`), never looked up by path,
size or modification time: a network or dataset replaced by another of the same size and mtime gets its own
hash, so its cells are computed afresh and the table records the new file's SHA-256.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
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


class ContentHashes:
    """Content hashes of the files and datasets one report run reads, each computed once per run from its
    bytes (a network shared by several rows, or a detector file used by every cell, is read once)."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, Path], str] = {}

    def _once(self, kind: str, path: Path, compute: Callable[[], str]) -> str:
        key = (kind, path.resolve())
        if key not in self._known:
            self._known[key] = compute()
        return self._known[key]

    def file(self, path: Path) -> str:
        """SHA-256 of a file's bytes (network files, detector weights)."""
        return self._once("file", path, lambda: sha256_file(path))

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

        return self._once("dataset", path, compute)
