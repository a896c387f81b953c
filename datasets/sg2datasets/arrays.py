"""Images held in a uint8 array: a ``.npy`` file, a ``.npz`` file, or an array passed from Python.

Accepted shapes (``layout='auto'`` decides by where a channel axis of size 1, 3 or 4 sits):
``[N, H, W]`` grayscale; ``[N, H, W, C]`` (NHWC, what ``np.stack`` of PIL images gives); ``[N, C, H, W]``
(NCHW, what torch uses). When both axis 1 and the last axis could be channels (e.g. 3x3 images) the layout
must be given. Four channels are RGBA: alpha is dropped, as for image files. A ``.npz`` must hold one array,
or name it ``images``. Order is the array's first axis.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Literal

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
    """The image array stored in a ``.npy`` (memory-mapped) or ``.npz`` file. Empty, truncated or damaged
    files and arrays of Python objects (which would need unpickling) are refused in one line."""
    try:
        if path.suffix.lower() == ".npy":
            return _readable(np.load(path, mmap_mode="r", allow_pickle=False), path)
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if "images" in keys:
                return _readable(archive["images"], path)
            if len(keys) == 1:
                return _readable(archive[keys[0]], path)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as error:
        if path.is_file() and path.stat().st_size == 0:
            raise Sg2Error(f"{path} is empty (0 bytes); write the images again") from error
        raise Sg2Error(
            f"{path} is not a readable {path.suffix.lower()} image array ({error}); it may be truncated or "
            "hold Python objects: save uint8 images with numpy.save / numpy.savez"
        ) from error
    raise Sg2Error(f"{path} holds arrays {keys}; store one array, or name the images 'images'")


def _readable(array: np.ndarray, path: Path) -> np.ndarray:
    if array.dtype.hasobject:  # a .npy header naming an object dtype cannot be memory-mapped either
        raise ValueError("an array of Python objects")
    return array
