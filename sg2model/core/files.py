"""File helpers shared by every writer (outputs appear whole or not at all), the check that an output can be
written (made before a long computation, not after it), and file hashing.

Temporary files and folders are created private (``tempfile`` makes them 0600 / 0700) and given the mode a
plain ``open`` / ``mkdir`` would give under the process's umask before they take the output's name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

from sg2model.core.errors import Sg2Error


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.fchmod(fd, 0o666 & ~current_umask())
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def current_umask() -> int:
    """The process's umask (read by setting it and setting it back: there is no other portable way)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def temporary_folder_beside(target: Path) -> Path:
    """A new empty folder beside ``target`` (to be renamed onto it when complete), with the mode ``mkdir``
    would give it."""
    folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    folder.chmod(0o777 & ~current_umask())
    return folder


def check_writable(
    path: str | os.PathLike[str], option: str, kind: Literal["file", "folder"] = "file"
) -> None:
    """Refuse, in one line naming ``option``, an output that could not be written: a file output naming a
    folder, a folder output naming a file, a place below a file, or a folder where no file can be created
    (read-only, no permission). Call it before the work whose result goes there; it leaves nothing behind
    (a probe file is created and removed in the nearest existing folder)."""
    target = Path(path).expanduser().absolute()
    if kind == "file" and target.is_dir():
        raise Sg2Error(f"{option} {path} is a folder; give a file name")
    if kind == "folder" and target.exists() and not target.is_dir():
        raise Sg2Error(f"{option} {path} is a file; give a folder")
    place = target if kind == "folder" else target.parent
    while not place.exists() and place != place.parent:
        place = place.parent
    if not place.is_dir():
        raise Sg2Error(f"{option} {path} cannot be written: {place} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".sg2eval-write-check.", dir=place)
    except OSError as error:
        raise Sg2Error(
            f"{option} {path} cannot be written: no file can be created in {place} ({error.strerror}); "
            "choose another place"
        ) from error
    os.close(fd)
    os.unlink(probe)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; it replaces ``path`` when the block succeeds."""
    with atomic_path(path) as tmp, open(tmp, mode) as handle:
        yield handle


def write_json(path: str | os.PathLike[str], payload: Any) -> None:
    """Write ``payload`` as indented JSON, atomically."""
    with atomic_open(path, "w") as handle:
        json.dump(payload, handle, indent=2, sort_keys=False, default=str)
        handle.write("\n")


def sha256_file(path: str | os.PathLike[str], chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_bytes), b""):
            digest.update(chunk)
    return digest.hexdigest()
