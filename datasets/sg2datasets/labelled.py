"""Labelled image datasets on disk: an image zip (or folder) plus binary attribute labels.

Layout written by :func:`write_labelled_zip` (stylegan2-ada's ``dataset_tool`` layout, so the same zip trains
a generator):

- ``00000/img00000000.png`` ... one PNG per image, 1000 per folder;
- ``dataset.json``: ``{"labels": [[name, [a0, a1, ...]], ...], "attribute_names": [...]}`` — stylegan2-ada
  reads the 0/1 vectors as float labels and ignores the extra key;
- ``attrs.csv``: header ``image,<attribute>,...``, one row per image with 0/1 values (like CelebA's
  ``list_attr_celeba.txt``, which uses -1/1 and whitespace; both are accepted when reading).

:class:`LabelledDataset` reads such a zip or folder with labels from ``attrs.csv`` inside it, from a labels
file given explicitly (CSV with 0/1 or -1/1, or CelebA's list_attr format), or from ``dataset.json``.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
from PIL import Image

from sg2model.core.errors import Sg2Error
from sg2model.core.files import atomic_path

ATTRS_CSV = "attrs.csv"
DATASET_JSON = "dataset.json"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def image_name(index: int) -> str:
    """Member name of image ``index`` in stylegan2-ada's layout (``00000/img00000000.png``)."""
    return f"{index // 1000:05d}/img{index:08d}.png"


def write_labelled_zip(
    path: str | os.PathLike[str],
    images: np.ndarray,
    attributes: np.ndarray,
    attribute_names: Sequence[str],
    meta: dict[str, object] | None = None,
) -> None:
    """Write ``images`` (uint8 [N, C, H, W]) and ``attributes`` ([N, A], bool or 0/1) as a labelled zip."""
    if images.ndim != 4 or images.dtype != np.uint8:
        raise Sg2Error(f"images must be uint8 [N, C, H, W], got {images.dtype} {images.shape}")
    if attributes.shape != (images.shape[0], len(attribute_names)):
        raise Sg2Error(
            f"attributes must be [{images.shape[0]}, {len(attribute_names)}], got {attributes.shape}"
        )
    bits = attributes.astype(np.int64)
    names = [image_name(i) for i in range(images.shape[0])]
    table = pd.DataFrame(bits, columns=list(attribute_names))
    table.insert(0, "image", names)
    dataset_json = {
        "labels": [[name, row.tolist()] for name, row in zip(names, bits, strict=True)],
        "attribute_names": list(attribute_names),
        "meta": meta or {},
    }
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, img in zip(names, images, strict=True):
            buffer = io.BytesIO()
            pixels = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)  # [H, W(, C)]
            Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
            archive.writestr(name, buffer.getvalue())
        archive.writestr(DATASET_JSON, json.dumps(dataset_json))
        archive.writestr(ATTRS_CSV, table.to_csv(index=False))


def read_attributes(text: str, origin: str = "labels") -> pd.DataFrame:
    """Parse attribute labels into a 0/1 int8 table indexed by image name.

    Accepts CSV with a header (first column: image names; values 0/1 or -1/1) or CelebA's
    ``list_attr_celeba.txt`` (a count line, a line of attribute names, rows ``name v1 v2 ...`` with -1/1).
    """
    lines = text.splitlines()
    if lines and lines[0].strip().isdigit():  # CelebA list_attr layout
        columns = lines[1].split()
        rows = [line.split() for line in lines[2:] if line.strip()]
        if any(len(row) != len(columns) + 1 for row in rows):
            raise Sg2Error(f"{origin}: every row must have a name and {len(columns)} values")
        table = pd.DataFrame([row[1:] for row in rows], index=[row[0] for row in rows], columns=columns)
        table = table.astype(np.int64)
    else:
        frame = pd.read_csv(io.StringIO(text))
        if frame.shape[1] < 2:
            raise Sg2Error(f"{origin}: need an image-name column and at least one attribute column")
        table = frame.set_index(frame.columns[0]).astype(np.int64)
    values = set(np.unique(table.to_numpy()).tolist())
    if values <= {0, 1}:
        bits = table
    elif values <= {-1, 1}:
        bits = (table > 0).astype(np.int64)
    else:
        raise Sg2Error(f"{origin}: attribute values must be 0/1 or -1/1, found {sorted(values)}")
    bits.index = bits.index.astype(str)
    return bits.astype(np.int8)


class LabelledDataset:
    """Images of a zip or folder with binary attributes; images are decoded on demand."""

    def __init__(self, data: str | os.PathLike[str], labels: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(data)
        if not self.path.exists():
            raise Sg2Error(f"dataset {self.path} does not exist; pass an image zip or folder")
        self._zip = zipfile.ZipFile(self.path) if self.path.is_file() else None
        members = self._members()
        table = self._load_labels(labels, members)
        self.names: list[str] = _match_names(list(table.index), members, str(self.path))
        self.attributes: pd.DataFrame = table.set_axis(self.names, axis=0)
        first = self.read([0])
        self.channels, self.resolution = int(first.shape[1]), int(first.shape[2])

    def __len__(self) -> int:
        return len(self.names)

    @property
    def attribute_names(self) -> list[str]:
        return [str(c) for c in self.attributes.columns]

    def _members(self) -> list[str]:
        if self._zip is not None:
            names = self._zip.namelist()
        else:
            names = [p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file()]
        return sorted(n for n in names if n.lower().endswith(IMAGE_SUFFIXES))

    def _read_bytes(self, name: str) -> bytes:
        if self._zip is not None:
            return self._zip.read(name)
        return (self.path / name).read_bytes()

    def _has(self, name: str) -> bool:
        if self._zip is not None:
            return name in self._zip.namelist()
        return (self.path / name).is_file()

    def _load_labels(self, labels: str | os.PathLike[str] | None, members: list[str]) -> pd.DataFrame:
        if labels is not None:
            if Path(labels).is_file():
                return read_attributes(Path(labels).read_text(), str(labels))
            if self._has(str(labels)):
                return read_attributes(self._read_bytes(str(labels)).decode(), f"{self.path}:{labels}")
            raise Sg2Error(f"labels file {labels} not found on disk or inside {self.path}")
        if self._has(ATTRS_CSV):
            return read_attributes(self._read_bytes(ATTRS_CSV).decode(), f"{self.path}:{ATTRS_CSV}")
        if self._has(DATASET_JSON):
            payload = json.loads(self._read_bytes(DATASET_JSON))
            names = payload.get("attribute_names")
            if names and payload.get("labels"):
                rows = {name: values for name, values in payload["labels"]}
                table = pd.DataFrame.from_dict(rows, orient="index", columns=names)
                return read_attributes(table.to_csv(), f"{self.path}:{DATASET_JSON}")
        raise Sg2Error(
            f"no attribute labels found for {self.path}; pass --labels attrs.csv "
            "(CSV: image,<attr>,... with 0/1 or -1/1, or CelebA list_attr_celeba.txt)"
        )

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Decode images ``indices`` as uint8 [n, C, H, W] (RGB, or one channel for grayscale files)."""
        arrays = []
        for index in indices:
            with Image.open(io.BytesIO(self._read_bytes(self.names[int(index)]))) as img:
                pixels = np.asarray(img.convert("L" if img.mode in ("L", "I;16") else "RGB"))
            arrays.append(pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1))
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise Sg2Error(f"{self.path}: images differ in size {sorted(shapes)}; resize them first")
        return np.stack(arrays)

    def labels(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Attribute bits of images ``indices`` as int8 [n, A]."""
        return self.attributes.to_numpy()[np.asarray(indices, dtype=np.int64)]

    def describe(self) -> dict[str, object]:
        """Path, size, resolution and attribute names (for manifests and provenance)."""
        return {
            "path": str(self.path),
            "num_images": len(self),
            "resolution": self.resolution,
            "channels": self.channels,
            "attributes": self.attribute_names,
        }

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def _match_names(wanted: list[str], members: list[str], origin: str) -> list[str]:
    """Map label names to image members: exact path, else unique file name, else unique stem."""
    exact = set(members)
    by_name: dict[str, list[str]] = {}
    by_stem: dict[str, list[str]] = {}
    for member in members:
        posix = PurePosixPath(member)
        by_name.setdefault(posix.name, []).append(member)
        by_stem.setdefault(posix.stem, []).append(member)
    matched = []
    for name in wanted:
        if name in exact:
            matched.append(name)
            continue
        candidates = by_name.get(PurePosixPath(name).name) or by_stem.get(PurePosixPath(name).stem) or []
        if len(candidates) != 1:
            raise Sg2Error(
                f"{origin}: labelled image {name!r} matches {len(candidates)} image files; "
                "make label names match the image paths"
            )
        matched.append(candidates[0])
    return matched
