"""File helpers shared by every writer (outputs appear whole or not at all), the check that an output can be
written (made before a long computation, not after it), and file hashing.

Temporaries are named ``.<target name>.<random>.tmp`` beside their target. A process killed while writing
leaves one behind; :func:`remove_stale_temporaries` deletes those that are older than the running process.
Temporary files and folders are created private (``tempfile`` makes them 0600 / 0700) and given the mode a
plain ``open`` / ``mkdir`` would give under the process's umask before they take the output's name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

from sg2model.core.errors import Sg2Error

#: When this module was imported: every temporary this process makes is newer.
PROCESS_START = time.time()
TEMPORARY_SUFFIX = ".tmp"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMPORARY_SUFFIX, dir=target.parent)
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


def temporary_folder_beside(target: Path, suffix: str = "") -> Path:
    """A new empty folder beside ``target`` (to be renamed onto it when complete), with the mode ``mkdir``
    would give it."""
    folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent))
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
def atomic_folder(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; when the block succeeds it replaces ``path`` whole
    (a folder already there is moved aside, then deleted), else it is deleted and ``path`` is untouched."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = temporary_folder_beside(target, TEMPORARY_SUFFIX)
    try:
        yield staging
        if target.exists():
            # Not a temporary's name: were the process killed between the two renames, the previous
            # folder would wait in it to be restored by hand, never cleaned away as a stale temporary.
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.replace(target, old / target.name)
            os.replace(staging, target)
            shutil.rmtree(old)
        else:
            os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def remove_stale_temporaries(folder: str | os.PathLike[str], target: str = "*") -> list[Path]:
    """Delete the temporaries (files or folders ``.<target>.<random>.tmp``) in ``folder`` that were last
    modified before this process started, i.e. that a killed process left; returns what was deleted."""
    root = Path(folder)
    if not root.is_dir():
        return []
    stale = [p for p in root.glob(f".{target}.*{TEMPORARY_SUFFIX}") if p.lstat().st_mtime < PROCESS_START]
    for path in stale:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    return stale


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
