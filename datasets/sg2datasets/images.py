"""Images on disk as uint8 ``[C, H, W]`` arrays: decoding, colour rules, folders and zips of encoded files.

Colour handling follows stylegan2-ada-pytorch: its dataset tool keeps grayscale images single-channel (PIL
mode ``L``) and its metric code repeats one channel to three right before the detector, so a grayscale
dataset gives the same features as its RGB copy. Images with an alpha channel lose it
(``PIL.Image.convert('RGB')``, what ``dataset_tool.py --img-format RGB`` does). Images with more than 8 bits
per sample are refused rather than silently rescaled: 16-bit grayscale, and also 16-bit RGB(A) PNGs, which
PIL would otherwise reduce to 8 bits without a word.

Damaged files (truncated or corrupt PNG/JPEG/WebP, zip members failing their CRC) and images larger than
``PIL.Image.MAX_IMAGE_PIXELS`` (PIL's guard against decompression bombs) are refused in one line naming the
file.

Order of a folder or zip: sorted relative paths with ``/`` separators (Python string order), as
stylegan2-ada-pytorch's ``ImageFolderDataset`` and ``dataset_tool.py`` sort them. The content hash covers,
for each used image, its relative path and its bytes (streamed), so a folder and a zip holding the same files
under the same names share one hash, and changing any byte of any used image changes it.

Evaluation reads these through :mod:`sg2eval.sources`, training through :mod:`sg2model.training.data`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import warnings
import zipfile
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np
import PIL.Image

from sg2model.core.errors import Sg2Error

# The formats pytorch-fid and clean-fid read from folders (clean-fid also reads .npy arrays; we do not).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".pgm", ".ppm")
# Files beside the images that are not meant as images (stylegan2-ada's labels): skipped silently.
METADATA_NAMES = ("dataset.json",)
# PIL modes kept as single-channel 8-bit grayscale; any other 8-bit mode becomes RGB.
GRAYSCALE_MODES = ("L", "1", "LA", "La")
# Modes with more than 8 bits per sample: rejected rather than silently rescaled.
HIGH_DEPTH_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")
_CHUNK = 1 << 20
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# What PIL and zipfile raise on damaged bytes: truncated data (OSError, EOFError), broken chunks
# (SyntaxError, ValueError, zlib.error), failed CRCs (BadZipFile).
_DAMAGED = (OSError, EOFError, SyntaxError, ValueError, zlib.error, zipfile.BadZipFile)


class SkippedFilesWarning(UserWarning):
    """A folder or zip held files that are not images of a known format; they were left out."""


def warn_skipped(location: Path, skipped: list[str]) -> None:
    """Warn once about the files of ``location`` that are not images (count and first examples)."""
    skipped = [name for name in skipped if Path(name).name not in METADATA_NAMES]
    if skipped:
        examples = ", ".join(skipped[:3]) + (", ..." if len(skipped) > 3 else "")
        formats = "/".join(suffix[1:] for suffix in IMAGE_SUFFIXES)
        warnings.warn(
            f"{location}: skipped {len(skipped)} file(s) that are not {formats} images ({examples})",
            SkippedFilesWarning,
            stacklevel=3,
        )


def is_image_name(name: str) -> bool:
    """Whether a file or member name has one of the :data:`IMAGE_SUFFIXES`."""
    return name.lower().endswith(IMAGE_SUFFIXES)


def pil_to_chw(image: PIL.Image.Image, name: str) -> np.ndarray:
    """A decoded image -> uint8 ``[C, H, W]`` with C = 1 (grayscale) or 3 (RGB; alpha dropped)."""
    if image.mode in HIGH_DEPTH_MODES:
        raise Sg2Error(
            f"{name} is a {image.mode} image (more than 8 bits per sample); "
            "convert the dataset to 8-bit PNG/JPEG"
        )
    target = "L" if image.mode in GRAYSCALE_MODES else "RGB"
    if image.mode != target:
        image = image.convert(target)
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[np.newaxis] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def png_bit_depth(data: bytes) -> int | None:
    """Bits per sample of a PNG file's bytes (its IHDR header), None when they are not a PNG."""
    if data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR" or len(data) < 25:
        return None
    return data[24]


def decode_image(data: bytes, name: str) -> np.ndarray:
    """Encoded image bytes -> uint8 ``[C, H, W]`` (:func:`pil_to_chw`). Unreadable or damaged bytes, more than
    8 bits per sample and images above ``PIL.Image.MAX_IMAGE_PIXELS`` are refused in one line naming
    ``name``."""
    depth = png_bit_depth(data)
    if depth is not None and depth > 8:
        raise Sg2Error(
            f"{name} is a {depth}-bit PNG (more than 8 bits per sample); convert the images to 8-bit PNG/JPEG"
        )
    try:
        with PIL.Image.open(io.BytesIO(data)) as image:
            limit = PIL.Image.MAX_IMAGE_PIXELS
            if limit is not None and image.width * image.height > limit:
                raise PIL.Image.DecompressionBombError(f"{image.width}x{image.height} pixels")
            return pil_to_chw(image, name)
    except PIL.Image.DecompressionBombError as error:
        raise Sg2Error(
            f"{name} is larger than PIL.Image.MAX_IMAGE_PIXELS ({error}), PIL's guard against decompression "
            "bombs; remove it, or resize it if it is a real image"
        ) from error
    except PIL.UnidentifiedImageError as error:
        raise Sg2Error(f"{name} is not a readable image; remove or replace it") from error
    except _DAMAGED as error:
        raise Sg2Error(f"{name} is damaged ({error}); remove or replace it") from error


@contextlib.contextmanager
def reading(name: str) -> Iterator[None]:
    """Turn a failed read of ``name`` (a damaged file, a zip member failing its CRC) into one line."""
    try:
        yield
    except _DAMAGED as error:
        raise Sg2Error(f"{name} cannot be read ({error}); replace the file or archive") from error


def check_same_shape(expected: tuple[int, ...], image: np.ndarray, name: str) -> None:
    """Raise naming ``name`` when ``image`` [C, H, W] differs from the dataset's first image."""
    if tuple(image.shape) != expected:
        raise Sg2Error(
            f"{name} is {_shape_text(image.shape)} but the first image is {_shape_text(expected)}; "
            "all images of a source must have the same size and channels (resize or convert them first)"
        )


def _shape_text(shape: tuple[int, ...]) -> str:
    channels, height, width = shape
    return f"{width}x{height} with {channels} channel{'s' if channels != 1 else ''}"


class ImageFiles(ABC):
    """Encoded images under relative names (sorted); subclasses say how to open a name."""

    kind: str

    def __init__(self, location: Path, names: list[str]) -> None:
        if not names:
            raise Sg2Error(f"{location} contains no {', '.join(IMAGE_SUFFIXES)} images")
        self.location = location
        self.names = names

    def __len__(self) -> int:
        return len(self.names)

    @abstractmethod
    def open_binary(self, name: str) -> IO[bytes]:
        """The encoded bytes of image ``name``."""

    def label(self, name: str) -> str:
        """How messages name one image: ``<location>/<name>``."""
        return f"{self.location}/{name}"

    def decode(self, index: int) -> np.ndarray:
        """Image ``index`` as uint8 ``[C, H, W]``."""
        name = self.names[index]
        with reading(self.label(name)), self.open_binary(name) as handle:
            data = handle.read()
        return decode_image(data, self.label(name))

    def content_hash(self, count: int) -> str:
        """SHA-256 hex of the names and bytes of the first ``count`` images."""
        digest = hashlib.sha256(b"sg2eval-encoded-images-v1\0")
        for name in self.names[:count]:
            encoded = name.encode("utf-8")
            digest.update(len(encoded).to_bytes(8, "little") + encoded)
            file_digest = hashlib.sha256()
            with reading(self.label(name)), self.open_binary(name) as handle:
                for chunk in iter(lambda h=handle: h.read(_CHUNK), b""):  # type: ignore[misc]
                    file_digest.update(chunk)
            digest.update(file_digest.digest())
        return digest.hexdigest()


class ImageFolder(ImageFiles):
    """All image files under a folder, recursively, in sorted relative-path order."""

    kind = "folder"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        root = Path(path)
        files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        warn_skipped(root, [name for name in files if not is_image_name(name)])
        super().__init__(root, [name for name in files if is_image_name(name)])

    def open_binary(self, name: str) -> IO[bytes]:
        return open(self.location / name, "rb")


class ImageZip(ImageFiles):
    """All image members of a zip archive, in sorted member-name order."""

    kind = "zip"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        archive = Path(path)
        try:
            self._zip = zipfile.ZipFile(archive)
        except _DAMAGED as error:
            raise Sg2Error(f"{archive} is not a valid zip archive ({error})") from error
        members = sorted(n for n in self._zip.namelist() if not n.endswith("/"))
        warn_skipped(archive, [name for name in members if not is_image_name(name)])
        super().__init__(archive, [name for name in members if is_image_name(name)])

    def open_binary(self, name: str) -> IO[bytes]:
        return self._zip.open(name)
