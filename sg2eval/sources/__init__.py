"""Image sources: ``open_source(spec, **options) -> ImageSource`` (docs/CONTRACTS.md, "sg2eval data flow").

``spec`` is told apart by what it is:

- a folder -> :class:`FolderSource` (png/jpg/jpeg/webp, recursive, sorted relative paths);
- ``*.zip`` -> :class:`ZipSource`;
- ``*.npy`` / ``*.npz`` -> :class:`ArraySource` (uint8 ``[N,H,W]``, NHWC or NCHW);
- ``*.sg2`` / ``*.pkl`` -> :class:`NetworkSource` (generated from seeds);
- a uint8 numpy array -> :class:`ArraySource`.

Feature files written by ``sg2eval features`` are not image sources; :mod:`sg2eval.features` reads them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from sg2datasets.arrays import Layout
from sg2eval.errors import Sg2evalError
from sg2eval.sources.arrays import ArraySource
from sg2eval.sources.base import ImageSource
from sg2eval.sources.files import FolderSource, ZipSource
from sg2eval.sources.network import NetworkSource

NETWORK_SUFFIXES = (".sg2", ".pkl", ".pickle")

__all__ = [
    "ArraySource",
    "FolderSource",
    "ImageSource",
    "NetworkSource",
    "ZipSource",
    "open_source",
]


def open_source(
    spec: str | os.PathLike[str] | np.ndarray | ImageSource,
    *,
    seed: int = 0,
    truncation: float = 1.0,
    noise_mode: str = "random",
    class_idx: int | None = None,
    layout: Layout = "auto",
    device: str | torch.device = "cpu",
    workers: int | None = None,
) -> ImageSource:
    """Open ``spec`` as an image source. Generation options apply to network files only, ``layout`` to
    arrays only, ``workers`` (decoding threads) to folders and zips."""
    if isinstance(spec, ImageSource):
        return spec
    if isinstance(spec, np.ndarray):
        return ArraySource(spec, layout)
    path = Path(spec)
    if path.is_dir():
        return FolderSource(path, workers)
    if not path.is_file():
        raise Sg2evalError(
            f"source {path} does not exist; give an image folder, zip, .npy/.npz or network file "
            "(or a features file where features are accepted)"
        )
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return ZipSource(path, workers)
    if suffix in (".npy", ".npz"):
        return ArraySource.from_file(path, layout)
    if suffix in NETWORK_SUFFIXES:
        return NetworkSource(path, seed, truncation, noise_mode, class_idx, device)
    raise Sg2evalError(
        f"cannot tell what {path} is from its suffix {suffix!r}; use a folder, .zip, .npy, .npz, .sg2 or .pkl"
    )
