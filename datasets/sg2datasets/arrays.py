"""Images held in a uint8 array: a ``.npy`` file, a ``.npz`` file, or an array passed from Python.

Accepted shapes (``layout='auto'`` decides by where a channel axis of size 1, 3 or 4 sits):
``[N, H, W]`` grayscale; ``[N, H, W, C]`` (NHWC, what ``np.stack`` of PIL images gives); ``[N, C, H, W]``
(NCHW, what torch uses). When both axis 1 and the last axis could be channels (e.g. 3x3 images) the layout
must be given. Four channels are RGBA: alpha is dropped, as for image files. A ``.npz`` must hold one array,
or name it ``images``. Order is the array's first axis.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path
from typing import IO, Literal

import numpy as np

from sg2model.core.errors import Sg2Error

Layout = Literal["auto", "NHWC", "NCHW"]
ARRAY_SUFFIXES = (".npy", ".npz")
_CHANNELS = (1, 3, 4)


def to_nchw(array: np.ndarray, layout: Layout = "auto", name: str = "array") -> np.ndarray:
    """A uint8 image array in any accepted layout -> a view ``[N, C, H, W]`` with C = 1 or 3."""
    if array.dtype != np.uint8:
        raise Sg2Error(
            f"{name} has dtype {array.dtype}; image arrays must be uint8 in [0, 255] "
            "(convert generator output with (x * 127.5 + 128).clip(0, 255).astype(uint8))"
        )
    if array.ndim == 3:
        return array[:, np.newaxis]
    if array.ndim != 4:
        raise Sg2Error(f"{name} has shape {array.shape}; expected [N, H, W], [N, H, W, C] or [N, C, H, W]")
    if layout == "auto":
        channels_first, channels_last = array.shape[1] in _CHANNELS, array.shape[3] in _CHANNELS
        if channels_first == channels_last:
            raise Sg2Error(
                f"{name} has shape {array.shape}: cannot tell NHWC from NCHW; pass layout='NHWC' or 'NCHW'"
            )
        layout = "NCHW" if channels_first else "NHWC"
    nchw = array if layout == "NCHW" else array.transpose(0, 3, 1, 2)
    if nchw.shape[1] not in _CHANNELS:
        raise Sg2Error(f"{name} has {nchw.shape[1]} channels in layout {layout}; expected 1, 3 or 4")
    return nchw[:, :3] if nchw.shape[1] == 4 else nchw


def load_image_array(path: Path) -> np.ndarray:
    """The image array stored in a ``.npy`` (memory-mapped) or ``.npz`` file, after its header's claims
    (dtype, shape) are checked against the bytes the file holds."""
    try:
        if path.suffix.lower() == ".npy":
            with open(path, "rb") as handle:
                check_array_header(handle, path.stat().st_size, str(path))
            return np.load(path, mmap_mode="r", allow_pickle=False)
        return _load_npz(path)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        if path.is_file() and path.stat().st_size == 0:
            raise Sg2Error(f"{path} is empty (0 bytes); write the images again") from exc
        raise Sg2Error(
            f"{path} is not a readable .npy/.npz image array ({exc}); write it with np.save or np.savez"
        ) from exc


def _load_npz(path: Path) -> np.ndarray:
    with zipfile.ZipFile(path) as archive:
        infos = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
        key = "images" if "images" in infos else next(iter(infos)) if len(infos) == 1 else None
        if key is None:
            raise Sg2Error(f"{path} holds arrays {list(infos)}; store one array, or name the images 'images'")
        info = infos[key]
        _check_member_size(info, path.stat().st_size, f"{path}[{key}]")
        with archive.open(info) as handle:
            check_array_header(handle, info.file_size, f"{path}[{key}]")
    with np.load(path, allow_pickle=False) as arrays:
        return arrays[key]


# Deflate expands at most about 1032:1; a member claiming more than that is damaged or crafted.
_DEFLATE_MAX_RATIO = 1032


def _check_member_size(info: zipfile.ZipInfo, archive_bytes: int, name: str) -> None:
    """The uncompressed size a zip member claims must be reachable from its compressed bytes."""
    if info.compress_type == zipfile.ZIP_STORED:
        reachable = info.compress_size
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        reachable = info.compress_size * _DEFLATE_MAX_RATIO + 1024
    else:
        raise Sg2Error(
            f"{name} is compressed with method {info.compress_type}; write it with np.savez(_compressed)"
        )
    if info.compress_size > archive_bytes or info.file_size > reachable:
        raise Sg2Error(
            f"{name} claims {info.file_size} bytes from {info.compress_size} compressed ones in an archive "
            f"of {archive_bytes}; the file is damaged"
        )


def check_array_header(handle: IO[bytes], available: int, name: str) -> None:
    """An ``.npy`` header (at the handle's position) of a plain numeric dtype whose shape fits in the
    ``available`` bytes of the stream (header included)."""
    version = np.lib.format.read_magic(handle)
    if version >= (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
    else:
        shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
    if dtype.hasobject or dtype.kind not in "biufc":
        raise Sg2Error(f"{name} has dtype {dtype}; image arrays must be uint8")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > available - handle.tell():
        raise Sg2Error(
            f"{name} claims an array of shape {shape} ({nbytes} bytes) but holds {available - handle.tell()} "
            "bytes after its header; the file is damaged"
        )
