"""Encoded images on disk: a folder (recursive) or a zip archive of PNG / JPEG / WebP files.

Order: sorted relative paths with ``/`` separators (Python string order), as stylegan2-ada-pytorch's
``ImageFolderDataset`` and ``dataset_tool.py`` sort them; ``--num N`` takes the first N of that order.
The content hash covers, for each used image, its relative path and its bytes (streamed), so a folder and a
zip holding the same files under the same names share cache entries, and changing any byte of any used image
changes the key.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from abc import abstractmethod
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image

from sg2eval.errors import Sg2evalError
from sg2eval.sources.base import ImageSource, check_same_shape, pil_to_chw

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
_CHUNK = 1 << 20


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


class EncodedImageSource(ImageSource):
    """Images stored as encoded files under relative names; subclasses say how to open a name."""

    def __init__(self, location: Path, names: list[str], workers: int | None = None) -> None:
        if not names:
            raise Sg2evalError(f"{location} contains no .png, .jpg, .jpeg or .webp images")
        self.location = location
        self.names = names
        self.workers = workers or min(8, os.cpu_count() or 1)

    @property
    def num_available(self) -> int:
        return len(self.names)

    @abstractmethod
    def open_binary(self, name: str) -> io.BufferedIOBase:
        """The encoded bytes of image ``name``."""

    def _decode(self, name: str) -> np.ndarray:
        with self.open_binary(name) as handle:
            data = handle.read()
        try:
            with PIL.Image.open(io.BytesIO(data)) as image:
                return pil_to_chw(image, self._label(name))
        except PIL.UnidentifiedImageError as error:
            raise Sg2evalError(
                f"{self._label(name)} is not a readable image; remove or replace it"
            ) from error

    def _label(self, name: str) -> str:
        return f"{self.location}/{name}"

    def iter_batches(self, batch_size: int, num: int | str | None = None) -> Iterator[np.ndarray]:
        count = self.resolve_num(num)
        expected: tuple[int, ...] | None = None
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for start in range(0, count, batch_size):
                names = self.names[start : min(start + batch_size, count)]
                images = list(pool.map(self._decode, names))
                if expected is None:
                    expected = tuple(images[0].shape)
                for name, image in zip(names, images, strict=True):
                    check_same_shape(expected, image, self._label(name))
                yield np.stack(images)  # [B, C, H, W]

    def content_hash(self, num: int | str | None = None) -> str:
        digest = hashlib.sha256(b"sg2eval-encoded-images-v1\0")
        for name in self.names[: self.resolve_num(num)]:
            encoded = name.encode("utf-8")
            digest.update(len(encoded).to_bytes(8, "little") + encoded)
            file_digest = hashlib.sha256()
            with self.open_binary(name) as handle:
                for chunk in iter(lambda h=handle: h.read(_CHUNK), b""):  # type: ignore[misc]
                    file_digest.update(chunk)
            digest.update(file_digest.digest())
        return digest.hexdigest()

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": str(self.location), "num_available": len(self.names)}


class FolderSource(EncodedImageSource):
    """All image files under a folder, recursively, in sorted relative-path order."""

    kind = "folder"

    def __init__(self, path: str | os.PathLike[str], workers: int | None = None) -> None:
        root = Path(path)
        names = sorted(
            p.relative_to(root).as_posix() for p in root.rglob("*") if is_image_name(p.name) and p.is_file()
        )
        super().__init__(root, names, workers)

    def open_binary(self, name: str) -> io.BufferedIOBase:
        return open(self.location / name, "rb")


class ZipSource(EncodedImageSource):
    """All image members of a zip archive, in sorted member-name order."""

    kind = "zip"

    def __init__(self, path: str | os.PathLike[str], workers: int | None = None) -> None:
        archive = Path(path)
        try:
            self._zip = zipfile.ZipFile(archive)
        except zipfile.BadZipFile as error:
            raise Sg2evalError(f"{archive} is not a valid zip archive") from error
        names = sorted(n for n in self._zip.namelist() if is_image_name(n) and not n.endswith("/"))
        super().__init__(archive, names, workers)

    def open_binary(self, name: str) -> io.BufferedIOBase:
        return self._zip.open(name)  # type: ignore[return-value]
