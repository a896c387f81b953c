"""Images held in a uint8 array as a source: a ``.npy`` file, a ``.npz`` file, or an array from Python.

Accepted shapes and layouts are those of :func:`sg2datasets.arrays.to_nchw` (``[N, H, W]``, NHWC, NCHW;
alpha dropped); a ``.npz`` must hold one array or name it ``images``. Order is the array's first axis.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sg2datasets.arrays import Layout, load_image_array, to_nchw
from sg2eval.sources.base import ImageSource


class ArraySource(ImageSource):
    """A uint8 image array, used in first-axis order."""

    kind = "array"

    def __init__(
        self, images: np.ndarray, layout: Layout = "auto", path: str | os.PathLike[str] | None = None
    ):
        self.path = None if path is None else Path(path)
        label = str(self.path) if self.path is not None else "image array"
        self.images = to_nchw(np.asarray(images), layout, label)  # [N, C, H, W]
        if self.path is not None:
            self.kind = self.path.suffix.lower().lstrip(".")

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], layout: Layout = "auto") -> ArraySource:
        return cls(load_image_array(Path(path)), layout, path)

    @property
    def num_available(self) -> int:
        return len(self.images)

    def iter_range(self, start: int, stop: int, batch_size: int) -> Iterator[np.ndarray]:
        for first in range(start, stop, batch_size):
            yield np.array(self.images[first : min(first + batch_size, stop)])  # a writable copy

    def content_hash(self, num: int | str | None = None) -> str:
        count = self.resolve_num(num)
        digest = hashlib.sha256(b"sg2eval-image-array-v1\0")
        digest.update(repr(tuple(self.images.shape[1:])).encode())
        for start in range(0, count, 256):
            digest.update(np.ascontiguousarray(self.images[start : min(start + 256, count)]).tobytes())
        return digest.hexdigest()

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"kind": self.kind, "num_available": len(self.images)}
        if self.path is not None:
            info["path"] = str(self.path)
        info["shape_chw"] = list(self.images.shape[1:])
        return info
