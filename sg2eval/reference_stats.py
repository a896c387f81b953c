"""Named reference statistics (``--real ffhq-1024``): FID statistics of the official datasets, found in the
caches users already have or fetched from where clean-fid publishes them (docs/interop.md).

Each name is a :class:`ReferenceStats`: the file, its URL and, where one is published, its SHA-256. clean-fid
publishes statistics of its ``legacy_tensorflow`` mode (NVIDIA's Inception with TF1's resize, the detector
space of our ``inception-v3-tf``) at ``https://www.cs.cmu.edu/~clean-fid/stats/`` without hashes, so those
files are checked by content only (mean ``[D]``, covariance ``[D, D]``, finite) and recorded as unverified.
torch-fidelity publishes no statistics; it computes them from the dataset into its cache, where we find them.

:func:`find_reference_stats` looks, in order, in ``$SG2EVAL_CACHE/stats``, clean-fid's ``stats`` folder
inside its installed package, and torch-fidelity's ``$TORCH_HOME/fidelity_cache``; then, unless
``SG2EVAL_OFFLINE=1``, downloads into ``$SG2EVAL_CACHE/stats`` (atomic: the file appears only once checked).
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sg2eval.weights as weights
from sg2eval.cache import default_cache_dir
from sg2eval.errors import Sg2evalError
from sg2eval.stats_formats import FIDELITY_SUFFIX, StatsSet, read_stats_file
from sg2model.core.files import atomic_path, sha256_file

CLEANFID_URL = "https://www.cs.cmu.edu/~clean-fid/stats"


@dataclass(frozen=True)
class ReferenceStats:
    """One named statistics file: what it measures, where it lives and how it is verified."""

    name: str  # e.g. 'ffhq-1024'
    filename: str  # the file name the publishing tool uses (its caches are searched for it)
    description: str
    url: str | None = None  # None: not published anywhere (torch-fidelity computes its own)
    sha256: str | None = None  # None: no published hash (checked by content only)


@dataclass(frozen=True)
class FoundStats:
    """A located reference statistics file and how far it is trusted."""

    entry: ReferenceStats
    path: Path
    sha256: str
    verified: bool
    origin: str  # 'sg2eval cache', 'clean-fid stats', 'torch-fidelity cache', 'downloaded'
    check: str

    def describe(self) -> dict[str, object]:
        return {
            "name": self.entry.name,
            "file": self.entry.filename,
            "url": self.entry.url,
            "sha256": self.sha256,
            "verified": self.verified,
            "check": self.check,
            "origin": self.origin,
        }


REFERENCE_STATS: dict[str, ReferenceStats] = {}


def register_reference_stats(entry: ReferenceStats, *, replace: bool = False) -> None:
    """Make ``entry.name`` usable as ``--real``/``--fake``; refuses silent overrides."""
    if entry.name in REFERENCE_STATS and not replace and REFERENCE_STATS[entry.name] != entry:
        raise Sg2evalError(f"reference statistics {entry.name!r} are already registered; pass replace=True")
    REFERENCE_STATS[entry.name] = entry


def _cleanfid(name: str, dataset: str, split: str, res: int, what: str) -> ReferenceStats:
    filename = f"{dataset}_legacy_tensorflow_{split}_{res}.npz"
    description = f"{what} (clean-fid {dataset} split {split}, legacy_tensorflow mode)"
    return ReferenceStats(name, filename, description, url=f"{CLEANFID_URL}/{filename}")


for _entry in (
    _cleanfid("ffhq-1024", "ffhq", "trainval70k", 1024, "FFHQ 1024x1024, all 70 000 images"),
    _cleanfid("ffhq-256", "ffhq", "trainval70k", 256, "FFHQ 256x256, all 70 000 images"),
    _cleanfid("lsun-church-256", "lsun_church", "train", 256, "LSUN Church 256x256, 50 000 images"),
    _cleanfid("lsun-cat-256", "lsun_cat", "train", 256, "LSUN Cat 256x256, 50 000 images"),
    _cleanfid("lsun-horse-256", "lsun_horse", "train", 256, "LSUN Horse 256x256, 50 000 images"),
    _cleanfid("cifar10-32", "cifar10", "train", 32, "CIFAR-10 32x32 training set, 50 000 images"),
    _cleanfid("cifar10-test-32", "cifar10", "test", 32, "CIFAR-10 32x32 test set, 10 000 images"),
    _cleanfid("metfaces-1024", "metfaces", "train", 1024, "MetFaces 1024x1024, 1 336 images"),
    _cleanfid("afhq-cat-512", "afhq_cat", "train", 512, "AFHQ Cat 512x512, 5 153 images"),
    _cleanfid("afhq-dog-512", "afhq_dog", "train", 512, "AFHQ Dog 512x512, 4 739 images"),
    _cleanfid("afhq-wild-512", "afhq_wild", "train", 512, "AFHQ Wild 512x512, 4 738 images"),
    ReferenceStats(
        "cifar10-train",
        f"cifar10-train{FIDELITY_SUFFIX}",
        "CIFAR-10 training set as torch-fidelity caches it (run torch-fidelity with input2='cifar10-train')",
    ),
    ReferenceStats(
        "cifar10-val",
        f"cifar10-val{FIDELITY_SUFFIX}",
        "CIFAR-10 test set as torch-fidelity caches it (run torch-fidelity with input2='cifar10-val')",
    ),
):
    register_reference_stats(_entry)


def our_stats_dir() -> Path:
    """``$SG2EVAL_CACHE/stats`` (default ``~/.cache/sg2eval/stats``): where downloads go."""
    return default_cache_dir() / "stats"


def cleanfid_stats_dir() -> Path | None:
    """clean-fid's ``stats`` folder inside its installed package (found without importing it)."""
    spec = importlib.util.find_spec("cleanfid")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "stats"


def fidelity_cache_dir() -> Path:
    """torch-fidelity's cache: ``$TORCH_HOME/fidelity_cache`` (torch's home: ``$TORCH_HOME``, else
    ``$XDG_CACHE_HOME/torch``, else ``~/.cache/torch``)."""
    home = os.environ.get("TORCH_HOME")
    if home is None:
        home = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch")
    return Path(home) / "fidelity_cache"


def search_folders() -> Iterator[tuple[str, Path]]:
    """Where reference statistics may already be, in search order."""
    yield "sg2eval cache", our_stats_dir()
    cleanfid = cleanfid_stats_dir()
    if cleanfid is not None:
        yield "clean-fid stats", cleanfid
    yield "torch-fidelity cache", fidelity_cache_dir()


def is_reference_name(spec: object) -> bool:
    """Whether ``spec`` names registered reference statistics (and is not an existing path)."""
    return isinstance(spec, str) and spec in REFERENCE_STATS and not Path(spec).exists()


def _checked(entry: ReferenceStats, path: Path, origin: str) -> FoundStats:
    """Check a file: by its published SHA-256, else by reading it (shapes, finite values)."""
    digest = sha256_file(path)
    if entry.sha256 is not None:
        ok = digest == entry.sha256
        return FoundStats(entry, path, digest, ok, origin, "sha256 matches" if ok else "sha256 differs")
    read_stats_file(path)  # raises on a file that is not usable statistics
    return FoundStats(entry, path, digest, False, origin, "no published hash; read as statistics")


def _download(entry: ReferenceStats) -> FoundStats:
    assert entry.url is not None
    target = our_stats_dir() / entry.filename
    with atomic_path(target) as tmp:
        weights.DOWNLOADER(entry.url, tmp)
        found = _checked(entry, tmp, "downloaded")
        if entry.sha256 is not None and not found.verified:
            raise Sg2evalError(
                f"downloaded {entry.url} but its sha256 {found.sha256} differs from the published "
                f"{entry.sha256}; nothing was kept: try again, or place the file in {our_stats_dir()}"
            )
    return FoundStats(entry, target, found.sha256, found.verified, "downloaded", found.check)


def _missing(entry: ReferenceStats, reason: str) -> str:
    folders = ", ".join(str(folder) for _, folder in search_folders())
    how = f"download {entry.url} into {our_stats_dir()}" if entry.url else entry.description
    return (
        f"reference statistics {entry.name} ({entry.filename}) not found in {folders}; {reason}: {how}, "
        "or compute them from the images with 'sg2eval features DATASET --format pytorch-fid --out F.npz'"
    )


def find_reference_stats(name: str, download: bool | None = None) -> FoundStats:
    """Locate (or fetch) the statistics file of ``name``; ``download=None`` fetches unless
    ``SG2EVAL_OFFLINE=1``. A cached copy whose published hash differs is skipped with a warning."""
    if name not in REFERENCE_STATS:
        known = ", ".join(sorted(REFERENCE_STATS))
        raise Sg2evalError(f"unknown reference statistics {name!r}; known: {known}")
    entry = REFERENCE_STATS[name]
    for origin, folder in search_folders():
        path = folder / entry.filename
        if not path.is_file():
            continue
        found = _checked(entry, path, origin)
        if entry.sha256 is not None and not found.verified:
            warnings.warn(
                f"ignoring {path}: its sha256 differs from the published one; delete it",
                weights.UnverifiedWeightsWarning,
                stacklevel=2,
            )
            continue
        return found
    allowed = (not weights.offline()) if download is None else download
    if entry.url is None:
        raise Sg2evalError(_missing(entry, "it is not published for download"))
    if not allowed:
        raise Sg2evalError(_missing(entry, "downloads are off (SG2EVAL_OFFLINE=1)"))
    try:
        return _download(entry)
    except OSError as error:  # urllib's errors are OSErrors
        reason = str(getattr(error, "reason", error))
        raise Sg2evalError(_missing(entry, f"the download failed ({reason})")) from error


def read_reference_stats(name: str) -> StatsSet:
    """The statistics of ``name`` (:func:`find_reference_stats`), their provenance naming where they were
    found and how they were checked."""
    found = find_reference_stats(name)
    stats = read_stats_file(found.path)
    return StatsSet(stats.stats, {**stats.provenance, "reference": found.describe()}, stats.covariance)
