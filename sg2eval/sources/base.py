"""What every image source shares: the interface, the image-count rule and the pixel conventions.

An :class:`ImageSource` yields uint8 batches ``[B, C, H, W]`` (C = 1 or 3) of its first ``num`` images in a
fixed order (docs/CONTRACTS.md, "sg2eval data flow"). Colour handling follows stylegan2-ada-pytorch: its
dataset tool keeps grayscale images single-channel (PIL mode ``L``) and its metric code repeats one channel to
three right before the detector (done by :mod:`sg2eval.detectors`), so a grayscale dataset gives the same
features as its RGB copy. Images with an alpha channel lose it (``PIL.Image.convert('RGB')``, what
``dataset_tool.py --img-format RGB`` does; the tool's default refuses 4-channel images). All images of a
source must have the same channels, height and width; the first one that differs is named in the error.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

import numpy as np
import PIL.Image

from sg2eval.errors import Sg2evalError

# PIL modes kept as single-channel 8-bit grayscale; any other 8-bit mode becomes RGB.
GRAYSCALE_MODES = ("L", "1", "LA", "La")
# Modes with more than 8 bits per sample: rejected rather than silently rescaled.
HIGH_DEPTH_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def pil_to_chw(image: PIL.Image.Image, name: str) -> np.ndarray:
    """A decoded image -> uint8 ``[C, H, W]`` with C = 1 (grayscale) or 3 (RGB; alpha dropped)."""
    if image.mode in HIGH_DEPTH_MODES:
        raise Sg2evalError(
            f"{name} is a {image.mode} image (more than 8 bits per sample); "
            "convert the dataset to 8-bit PNG/JPEG"
        )
    target = "L" if image.mode in GRAYSCALE_MODES else "RGB"
    if image.mode != target:
        image = image.convert(target)
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[np.newaxis] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def check_same_shape(expected: tuple[int, ...], image: np.ndarray, name: str) -> None:
    """Raise naming ``name`` when ``image`` [C, H, W] differs from the source's first image."""
    if tuple(image.shape) != expected:
        raise Sg2evalError(
            f"{name} is {_shape_text(image.shape)} but the first image is {_shape_text(expected)}; "
            "all images of a source must have the same size and channels (resize or convert them first)"
        )


def _shape_text(shape: tuple[int, ...]) -> str:
    channels, height, width = shape
    return f"{width}x{height} with {channels} channel{'s' if channels != 1 else ''}"


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
                    raise Sg2evalError("--num all needs a finite source; give a number of images to generate")
                return default_generated
            return available
        count = int(num)
        if count < 1:
            raise Sg2evalError(f"the number of images must be at least 1, got {count}")
        if available is not None and count > available:
            raise Sg2evalError(
                f"{self.describe().get('path', self.kind)} holds {available} images "
                f"but {count} were asked for; "
                "lower --num or use --num all"
            )
        return count

    @abstractmethod
    def iter_batches(self, batch_size: int, num: int | str | None = None) -> Iterator[np.ndarray]:
        """uint8 batches ``[B, C, H, W]`` of the first ``num`` images (all when None), in source order."""

    @abstractmethod
    def content_hash(self, num: int | str | None = None) -> str:
        """SHA-256 hex of what the first ``num`` images are made of (bytes, not paths)."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Provenance: kind, location and options (JSON-able)."""
