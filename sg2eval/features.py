"""Features of a source under a detector: batched extraction, the feature store, and features files.

Two products, both cached by :mod:`sg2eval.cache` under a key of (source content hash, image count, detector
name, weights SHA-256, preprocessing id):

- ``features``: the full float32 array ``[N, D]`` (KID, precision/recall, ``sg2eval features``);
- ``moments``: float64 running moments (:class:`~sg2eval.metrics.fid.FeatureMoments`) for FID, computed in a
  stream without holding all features; derived from cached features when those exist.

Detectors without a weights hash (plain Python callables) are never cached: nothing identifies them.
A *features file* (``sg2eval features SRC --out F.npz``) is an ``.npz`` with ``features`` and a JSON
``__meta__`` entry saying which source, count and detector produced it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sg2eval.cache import FeatureCache, cache_key, read_npz, write_npz
from sg2eval.detectors import Detector
from sg2eval.distributed import broadcast, current_world, gather_moments, gather_rows, is_main, shard_range
from sg2eval.errors import Sg2evalError
from sg2eval.metrics.fid import Covariance, FeatureMoments, GaussianStats
from sg2eval.metrics.states import ItemRows
from sg2eval.progress import job_progress
from sg2eval.sources import ImageSource
from sg2model.core.allocator import reuse_freed_memory
from sg2model.core.files import sha256_file

FEATURES_FORMAT = "sg2eval-features-v1"


@dataclass(frozen=True)
class FeatureSet:
    """Features ``[N, D]`` float32 of one source, with where they came from."""

    features: np.ndarray
    provenance: dict[str, Any]


@dataclass(frozen=True)
class MomentSet:
    """Float64 feature moments of one source (for FID), with where they came from."""

    moments: FeatureMoments
    provenance: dict[str, Any]

    def gaussian(self, covariance: Covariance) -> GaussianStats:
        """Mean and covariance with ``covariance`` normalisation (as a statistics file's ``gaussian``)."""
        return self.moments.gaussian(covariance)


def detector_identity(detector: Detector) -> dict[str, Any]:
    """What about a detector decides its features: name, weights hash, preprocessing."""
    return {
        "name": detector.name,
        "weights_sha256": detector.weights_sha256,
        "preprocess": detector.preprocess_id,
    }


@dataclass(frozen=True)
class _Job:
    """One extraction: which images, which detector, how, and its cache key (None: not cacheable)."""

    source: ImageSource
    detector: Detector
    num: int
    batch_size: int
    progress: bool
    label: str
    cache: FeatureCache
    provenance: dict[str, Any]
    device: torch.device  # where float64 moments accumulate

    @property
    def key(self) -> str | None:
        if self.detector.weights_sha256 is None or not self.cache.enabled:
            return None
        return cache_key(
            {
                "content_sha256": self.provenance["content_sha256"],
                "num": self.num,
                "detector": detector_identity(self.detector),
            }
        )

    def with_cache_status(self, status: str, kind: str) -> dict[str, Any]:
        key = self.key
        cache = {"status": status, "key": key, "path": str(self.cache.path(kind, key)) if key else None}
        return {**self.provenance, "cache": cache}

    def load(self, kind: str) -> dict[str, np.ndarray] | None:
        """The stored ``kind`` arrays of this job (read by rank 0, sent to every rank); None on a miss or when
        the job is not cacheable."""
        key = self.key
        entry = self.cache.load(kind, key, self.num) if key is not None and is_main() else None
        return broadcast(entry[0] if entry is not None else None)

    def save(self, kind: str, arrays: Callable[[], dict[str, np.ndarray]]) -> dict[str, Any]:
        """Store ``arrays()`` (called only then, on rank 0) as this job's ``kind`` when it is cacheable; the
        provenance with cache status 'miss' (stored) or 'off'."""
        key = self.key
        if key is None:
            return self.with_cache_status("off", kind)
        if is_main():
            self.cache.save(kind, key, arrays(), self.provenance)
        return self.with_cache_status("miss", kind)

    def batches(self, items: range) -> Iterator[torch.Tensor]:
        """Detector features of each batch of images ``items``, float32 [B, D] on the CPU; the progress bar
        (rank 0's) counts the whole job's images, the other ranks' shares assumed to keep pace."""
        world = current_world()
        with job_progress(self.num, self.label, self.progress and world.is_main, "images") as advance:
            for images in self.source.iter_range(items.start, items.stop, self.batch_size):
                yield self.detector(torch.from_numpy(images))
                advance(len(images) * world.size)

    def rows(self) -> ItemRows:
        """This rank's share of the features as :class:`ItemRows` (``features [n, D]``)."""
        rows, items = ItemRows(), shard_range(self.num)
        start = items.start
        for features in self.batches(items):
            rows.update(start, features=features.numpy())
            start += len(features)
        return rows

    def moments(self) -> FeatureMoments | None:
        """This rank's share of the features as float64 moments (None when the share is empty)."""
        accumulator: FeatureMoments | None = None
        for features in self.batches(shard_range(self.num)):
            if accumulator is None:
                accumulator = FeatureMoments(features.shape[1], self.device)
            accumulator.update(features)
        return accumulator


def _make_job(
    source: ImageSource,
    detector: Detector,
    num: int | str | None,
    batch_size: int,
    cache: FeatureCache | None,
    progress: bool,
    label: str,
    device: torch.device | str = "cpu",
) -> _Job:
    if batch_size < 1:
        raise Sg2evalError(f"batch size must be at least 1, got {batch_size}")
    if detector.device.type == "cpu":
        reuse_freed_memory()  # Inception's first activations exceed glibc's mmap threshold (allocator.py)
    count = source.resolve_num(num)
    provenance = {
        "source": source.describe(),
        "content_sha256": broadcast(source.content_hash(count) if is_main() else None),  # read once
        "num": count,
        "detector": detector.describe(),
        "detector_identity": detector_identity(detector),
    }
    store = cache if cache is not None else FeatureCache(enabled=False)
    return _Job(source, detector, count, batch_size, progress, label, store, provenance, torch.device(device))


def extract_features(
    source: ImageSource,
    detector: Detector,
    num: int | str | None = None,
    batch_size: int = 64,
    cache: FeatureCache | None = None,
    progress: bool = False,
    label: str = "features",
) -> FeatureSet:
    """Features ``[num, D]`` of the first ``num`` images of ``source`` (from the cache when possible)."""
    job = _make_job(source, detector, num, batch_size, cache, progress, label)
    stored = job.load("features")
    if stored is not None:
        return FeatureSet(stored["features"], job.with_cache_status("hit", "features"))
    features = gather_rows(job.rows).arrays(job.num)["features"]  # [N, D] float32, item order
    return FeatureSet(features, job.save("features", lambda: {"features": features}))


def extract_moments(
    source: ImageSource,
    detector: Detector,
    num: int | str | None = None,
    batch_size: int = 64,
    cache: FeatureCache | None = None,
    progress: bool = False,
    label: str = "statistics",
    device: torch.device | str = "cpu",
) -> MomentSet:
    """Float64 moments of the features of the first ``num`` images (cached moments, cached features, or a
    streaming pass that never holds all features; ``device`` runs the [D, D] updates)."""
    job = _make_job(source, detector, num, batch_size, cache, progress, label, device)
    stored = job.load("moments")
    if stored is not None:
        return MomentSet(FeatureMoments.from_state(stored, device), job.with_cache_status("hit", "moments"))
    stored = job.load("features")
    if stored is not None:
        features_set = FeatureSet(stored["features"], job.with_cache_status("hit (features)", "features"))
        return moments_of(features_set, device)
    accumulator = gather_moments(job.moments)
    return MomentSet(accumulator, job.save("moments", accumulator.state))


def moments_of(features: FeatureSet, device: torch.device | str = "cpu") -> MomentSet:
    """Moments of an in-memory feature set (features files and arrays given to FID)."""
    moments = FeatureMoments(features.features.shape[1], device)
    moments.update(features.features)
    return MomentSet(moments, features.provenance)


def write_features_file(path: str | os.PathLike[str], features: FeatureSet) -> Path:
    """Write ``features`` as an ``.npz`` features file (atomic)."""
    meta = {"format": FEATURES_FORMAT, **features.provenance}
    meta.pop("cache", None)
    return write_npz(path, {"features": np.asarray(features.features, dtype=np.float32)}, meta)


def is_features_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an ``.npz`` that :func:`write_features_file` wrote."""
    file = Path(path)
    if file.suffix.lower() != ".npz" or not file.is_file():
        return False
    try:
        return read_npz(file, meta_only=True)[1].get("format") == FEATURES_FORMAT
    except Sg2evalError:
        return False


def read_features_file(path: str | os.PathLike[str], num: int | str | None = None) -> FeatureSet:
    """The first ``num`` rows (all when None/'all') of a features file, with its recorded provenance."""
    arrays, meta = read_npz(path)
    if meta.get("format") != FEATURES_FORMAT or "features" not in arrays:
        raise Sg2evalError(f"{path} is not an sg2eval features file; write one with 'sg2eval features'")
    features = arrays["features"]
    count = len(features) if num is None or num == "all" else int(num)
    if not 1 <= count <= len(features):
        raise Sg2evalError(f"{path} holds {len(features)} feature vectors but {count} were asked for")
    provenance = {
        **{k: v for k, v in meta.items() if k != "format"},
        "features_file": {"path": str(path), "sha256": sha256_file(path), "rows_used": count},
        "num": count,
    }
    return FeatureSet(features[:count], provenance)
