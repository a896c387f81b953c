"""What every image source shares: the interface and the image-count rule.

An :class:`ImageSource` yields uint8 batches ``[B, C, H, W]`` (C = 1 or 3) of its first ``num`` images in a
fixed order (docs/CONTRACTS.md, "sg2eval data flow"). The pixel conventions (grayscale kept single-channel,
alpha dropped, more than 8 bits refused) are those of :mod:`sg2datasets.images`; the detectors repeat one
channel to three. All images of a source must have the same channels, height and width; the first one that
differs is named in the error.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

import numpy as np

from sg2eval.errors import Sg2evalError
from sg2eval.naming import mention


class ImageSource(ABC):
    """A finite or generated sequence of uint8 images in a fixed, documented order."""

    kind: str

    @property
    @abstractmethod
    def num_available(self) -> int | None:
        """How many images the source holds; None for a network (any number)."""

    def __len__(self) -> int:
        available = self.num_available
        if available is None:
            raise Sg2evalError(f"{self.kind} sources have no fixed length; pass the number of images to use")
        return available

    def resolve_num(self, num: int | str | None, default_generated: int = 50_000) -> int:
        """The number of images to use: ``None``/``'all'`` means all of a finite source
        (``default_generated`` for a network); more than available is an error."""
        available = self.num_available
        if num is None or num == "all":
            if available is None:
                if num == "all":
                    raise Sg2evalError(
                        f"{mention('num', 'all')} needs a finite source; give a number of images to generate"
                    )
                return default_generated
            return available
        count = int(num)
        if count < 1:
            raise Sg2evalError(f"the number of images must be at least 1, got {count}")
        if available is not None and count > available:
            raise Sg2evalError(
                f"{self.describe().get('path', self.kind)} holds {available} images "
                f"but {count} were asked for; use {mention('num', available)} or {mention('num', 'all')}"
            )
        return count

    @abstractmethod
    def iter_range(self, start: int, stop: int, batch_size: int) -> Iterator[np.ndarray]:
        """uint8 batches ``[B, C, H, W]`` of images ``start .. stop - 1``, in source order (the one way to
        read a source: a shard of a distributed run reads its own range)."""

    def iter_batches(self, batch_size: int, num: int | str | None = None) -> Iterator[np.ndarray]:
        """uint8 batches ``[B, C, H, W]`` of the first ``num`` images (all when None), in source order."""
        if batch_size < 1:
            raise Sg2evalError(f"batch size must be at least 1, got {batch_size}")
        return self.iter_range(0, self.resolve_num(num), batch_size)

    def read_range(self, start: int, stop: int, batch_size: int = 64) -> np.ndarray:
        """Images ``start .. stop - 1`` as one uint8 array ``[stop - start, C, H, W]``."""
        available = self.num_available
        if start < 0 or stop <= start or (available is not None and stop > available):
            raise Sg2evalError(
                f"images {start}..{stop - 1} are not in {self.describe().get('path', self.kind)}"
                + (f", which holds {available}" if available is not None else "")
            )
        return np.concatenate(list(self.iter_range(start, stop, batch_size)))

    @abstractmethod
    def content_hash(self, num: int | str | None = None) -> str:
        """SHA-256 hex of what the first ``num`` images are made of (bytes, not paths)."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Provenance: kind, location and options (JSON-able)."""
