"""Training images: random access to an image dataset, mirror augmentation, data order.

Images are read with :mod:`sg2datasets` (docs/CONTRACTS.md): an image folder or zip is decoded on demand
(:class:`sg2datasets.images.ImageFiles`), a ``.npy``/``.npz`` array is sliced (memory-mapped for ``.npy``).
The pixel conventions are the evaluation's, so a network is trained and measured on the same pixels.

Mirror augmentation follows the official dataset: with ``mirror`` the dataset has ``2N`` items and item
``i >= N`` is image ``i - N`` flipped left-right. The order is a fresh permutation of all items every epoch,
drawn from ``(seed, epoch)`` only, so the position ``(epoch, index)`` is the whole state that resume needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sg2datasets.arrays import ARRAY_SUFFIXES, load_image_array, to_nchw
from sg2datasets.images import ImageFiles, ImageFolder, ImageZip
from sg2model.core.errors import Sg2Error


def open_images(spec: str) -> ImageFiles | np.ndarray:
    """An image folder or zip as :class:`ImageFiles`; a ``.npy``/``.npz`` as a uint8 ``[N, C, H, W]`` view."""
    path = Path(spec)
    if path.is_dir():
        return ImageFolder(path)
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return ImageZip(path)
    if suffix in ARRAY_SUFFIXES:
        return to_nchw(load_image_array(path), name=str(path))
    raise Sg2Error(f"{spec} is not an image dataset; train on an image folder, zip or .npy/.npz")


class TrainingData:
    """uint8 images ``[n, C, R, R]`` by item index (mirrored items past the end when ``mirror``)."""

    def __init__(self, spec: str, resolution: int | None = None, mirror: bool = False) -> None:
        if not Path(spec).exists():
            raise Sg2Error(f"training data {spec} does not exist; pass an image folder, zip or .npy/.npz")
        self.spec = spec
        self.images = open_images(spec)
        self.num_images = len(self.images)
        self.mirror = mirror
        first = self._read_one(0)
        self.channels, height, width = (int(v) for v in first.shape)
        if height != width or height & (height - 1) or height < 8:
            raise Sg2Error(
                f"{spec} holds {width}x{height} images; training needs square images whose side is a power "
                "of two >= 8 (resize or crop the dataset first)"
            )
        if resolution is not None and resolution != height:
            raise Sg2Error(
                f"--resolution {resolution} differs from the dataset's {height}x{height} images; "
                f"pass --resolution {height} or resize the dataset"
            )
        self.resolution = height

    def __len__(self) -> int:
        """Number of items: images, doubled with mirrored copies when ``mirror``."""
        return self.num_images * (2 if self.mirror else 1)

    def _read_one(self, index: int) -> np.ndarray:
        if isinstance(self.images, np.ndarray):
            return np.asarray(self.images[index])
        return self.images.decode(index)

    def read(self, items: np.ndarray) -> np.ndarray:
        """uint8 ``[n, C, R, R]`` of the given item indices."""
        images = []
        for item in items.tolist():
            image = self._read_one(item % self.num_images)
            if tuple(image.shape) != (self.channels, self.resolution, self.resolution):
                raise Sg2Error(
                    f"image {item % self.num_images} of {self.spec} has shape "
                    f"{tuple(image.shape)}, unlike the first image; all images must have one size"
                )
            images.append(image[:, :, ::-1] if item >= self.num_images else image)
        return np.ascontiguousarray(np.stack(images))  # [n, C, R, R]


@dataclass
class DataOrder:
    """Endless sequence of item indices: a permutation of ``range(num_items)`` per epoch from
    ``(seed, epoch)``. ``epoch`` and ``position`` are the state saved in checkpoints."""

    num_items: int
    seed: int
    epoch: int = 0
    position: int = 0
    _cached: tuple[int, np.ndarray] | None = field(default=None, repr=False, compare=False)

    def _permutation(self) -> np.ndarray:
        if self._cached is None or self._cached[0] != self.epoch:
            self._cached = (
                self.epoch,
                np.random.default_rng([self.seed, self.epoch]).permutation(self.num_items),
            )
        return self._cached[1]

    def take(self, count: int) -> np.ndarray:
        """The next ``count`` item indices (crossing epoch boundaries as needed)."""
        out: list[np.ndarray] = []
        need = count
        while need > 0:
            perm = self._permutation()
            chunk = perm[self.position : self.position + need]
            out.append(chunk)
            need -= len(chunk)
            self.position += len(chunk)
            if self.position >= self.num_items:
                self.epoch += 1
                self.position = 0
        return np.concatenate(out)

    def state(self) -> dict[str, int]:
        return {
            "epoch": self.epoch,
            "position": self.position,
            "num_items": self.num_items,
            "seed": self.seed,
        }

    def load_state(self, state: dict[str, int]) -> None:
        if state["num_items"] != self.num_items or state["seed"] != self.seed:
            raise Sg2Error(
                f"the checkpoint's data order covers {state['num_items']} items with seed {state['seed']}, "
                f"this run {self.num_items} with seed {self.seed}; "
                "resume with the same data, --mirror and --seed"
            )
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
