"""Feature and statistics store: arrays keyed by what they were computed from, written atomically.

A key is the SHA-256 of a canonical JSON of its parts (:func:`cache_key`): the source's content hash (file
bytes, or network hash + generation parameters), the number of images, the detector name, its weights'
SHA-256 and its preprocessing id; what is stored (``features`` or ``moments``) is the subfolder. Change any
one and the key changes, so a modified dataset never reuses stale statistics (ARCHITECTURE.md, "Feature
store").

Entries are ``.npz`` files (no pickles) with the arrays and a JSON ``__meta__`` string, under
``$SG2EVAL_CACHE`` or ``~/.cache/sg2eval`` as ``<kind>/<key[:2]>/<key>.npz``. The same file layout is the
features file that ``sg2eval features --out F.npz`` writes (:func:`write_npz` / :func:`read_npz`).
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from sg2eval.errors import Sg2evalError
from sg2model.core.files import atomic_path

META_KEY = "__meta__"


def default_cache_dir() -> Path:
    """``$SG2EVAL_CACHE``, else ``~/.cache/sg2eval`` (the root that :mod:`sg2eval.weights` also uses)."""
    root = os.environ.get("SG2EVAL_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "sg2eval"


def cache_key(parts: dict[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of ``parts`` (sorted keys, no whitespace)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_npz(path: str | os.PathLike[str], arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Path:
    """Write ``arrays`` plus ``meta`` (as a JSON string) to an ``.npz`` file, atomically."""
    target = Path(path)
    if META_KEY in arrays:
        raise Sg2evalError(f"array name {META_KEY!r} is reserved")
    payload: dict[str, Any] = {**arrays, META_KEY: np.asarray(json.dumps(meta, default=str))}
    with atomic_path(target) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, allow_pickle=False, **payload)
    return target


def read_npz(
    path: str | os.PathLike[str], meta_only: bool = False
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Inverse of :func:`write_npz` (``meta_only`` skips loading the arrays); a file without ``__meta__`` or
    unreadable raises Sg2evalError."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("not an .npz archive")
        with loaded as archive:
            if META_KEY not in archive.files:
                raise Sg2evalError(f"{path} is not an sg2eval features/statistics file (no {META_KEY} entry)")
            names = [] if meta_only else [name for name in archive.files if name != META_KEY]
            arrays = {name: archive[name] for name in names}
            meta = json.loads(str(archive[META_KEY]))
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as error:
        raise Sg2evalError(
            f"{path} cannot be read as an .npz file ({error}); delete it and recompute"
        ) from error
    return arrays, meta


class FeatureCache:
    """The on-disk store. ``enabled=False`` turns every lookup into a miss and every save into a no-op."""

    def __init__(self, root: str | os.PathLike[str] | None = None, enabled: bool = True) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.enabled = enabled

    def path(self, kind: str, key: str) -> Path:
        return self.root / kind / key[:2] / f"{key}.npz"

    def load(self, kind: str, key: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """The stored entry, or None on a miss (or when disabled). A corrupt entry counts as a miss."""
        if not self.enabled:
            return None
        file = self.path(kind, key)
        if not file.is_file():
            return None
        try:
            return read_npz(file)
        except Sg2evalError:
            return None

    def save(self, kind: str, key: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Path | None:
        """Store an entry (atomically); returns its path, or None when disabled."""
        if not self.enabled:
            return None
        return write_npz(self.path(kind, key), arrays, meta)
