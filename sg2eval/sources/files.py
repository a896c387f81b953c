"""Encoded images on disk as a source: a folder (recursive) or a zip archive of image files (PNG, JPEG,
WebP, BMP, TIFF, PGM/PPM; others skipped with one warning). A training run folder is refused.

Decoding, order and content hash are those of :mod:`sg2datasets.images` (sorted relative paths; names and
bytes hashed); this module adds batched, threaded decoding and the shape check across a source.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from sg2datasets.images import ImageFiles, ImageFolder, ImageZip, check_same_shape
from sg2eval.errors import Sg2evalError
from sg2eval.sources.base import ImageSource


class EncodedImageSource(ImageSource):
    """Images stored as encoded files under relative names (:class:`sg2datasets.images.ImageFiles`)."""

    def __init__(self, files: ImageFiles, workers: int | None = None) -> None:
        self.files = files
        self.kind = files.kind
        self.workers = workers or min(8, os.cpu_count() or 1)

    @property
    def location(self) -> Path:
        return self.files.location

    @property
    def names(self) -> list[str]:
        return self.files.names

    @property
    def num_available(self) -> int:
        return len(self.files)

    def iter_range(self, start: int, stop: int, batch_size: int) -> Iterator[np.ndarray]:
        expected: tuple[int, ...] | None = None
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for first in range(start, stop, batch_size):
                indices = range(first, min(first + batch_size, stop))
                images = list(pool.map(self.files.decode, indices))
                if expected is None:
                    expected = tuple(images[0].shape)
                for index, image in zip(indices, images, strict=True):
                    check_same_shape(expected, image, self.files.label(self.names[index]))
                yield np.stack(images)  # [B, C, H, W]

    def content_hash(self, num: int | str | None = None) -> str:
        return self.files.content_hash(self.resolve_num(num))

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": str(self.location), "num_available": len(self.names)}


# What a training run folder holds (ours and stylegan2-ada-pytorch's): network snapshots and logs.
RUN_FOLDER_MARKERS = ("log.jsonl", "stats.jsonl", "training_options.json")


def check_not_a_run_folder(root: Path) -> None:
    """Refuse a training run folder: its fakes*.png are grids of samples, not a set of images."""
    snapshots = sorted(root.glob("network-snapshot-*"))
    if snapshots or any((root / name).is_file() for name in RUN_FOLDER_MARKERS):
        example = snapshots[-1] if snapshots else root / "network-snapshot-<kimg>.pkl"
        raise Sg2evalError(
            f"{root} is a training run folder (its fakes*.png are sample grids); "
            f"pass one of its network snapshots instead, e.g. {example}"
        )


class FolderSource(EncodedImageSource):
    """All image files under a folder, recursively, in sorted relative-path order (not a run folder)."""

    def __init__(self, path: str | os.PathLike[str], workers: int | None = None) -> None:
        check_not_a_run_folder(Path(path))
        super().__init__(ImageFolder(path), workers)


class ZipSource(EncodedImageSource):
    """All image members of a zip archive, in sorted member-name order."""

    def __init__(self, path: str | os.PathLike[str], workers: int | None = None) -> None:
        super().__init__(ImageZip(path), workers)
