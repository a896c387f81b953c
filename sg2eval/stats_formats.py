"""FID statistics files of other tools: read pytorch-fid, clean-fid and torch-fidelity files, write them.

The three tools store the same thing, a mean ``mu`` [D] and an unbiased (``np.cov``, N - 1) covariance
``sigma`` [D, D] of Inception features, and none of them records which detector made it (docs/interop.md):

- **pytorch-fid** (``fid_score.save_fid_stats``): ``np.savez_compressed(path, mu=..., sigma=...)``, read
  back by ``compute_statistics_of_path`` as ``f['mu'], f['sigma']``. D = 2048 is the TF-ported Inception
  pool3 (other ``--dims`` are earlier blocks); pytorch-fid resizes with torch bilinear, not TF1's resize.
- **clean-fid** (``make_custom_stats``, ``get_reference_statistics``): the same two arrays, in a file whose
  lower-case name says what made it: ``{name}_{mode}[_{model}]_{split}_{res}.npz``; ``mode`` is ``clean``
  (PIL bicubic resize), ``legacy_tensorflow`` (NVIDIA's Inception, TF1 resize: our ``inception-v3-tf``) or
  ``legacy_pytorch`` (pytorch-fid's network and resize); ``model`` is absent for Inception. KID features go
  beside it as ``..._kid.npz`` with ``feats`` [N, D].
- **torch-fidelity** (``fid_featuresdict_to_statistics_cached``): ``torch.save`` of a dict of numpy arrays
  ``{"mu": float32, "sigma": float64}`` named ``{input}-{extractor}-stat-fid-{layer}.pt`` in
  ``$TORCH_HOME/fidelity_cache``; ``inception-v3-compat`` layer ``2048`` is the TF-ported pool3 with TF1's
  resize. Its FID asserts that both sides' ``mu`` share a dtype, so we write ``mu`` as float32 too.

What a file measures is a :class:`FeatureSpace` (detector and resize), told from the format and the name;
files we wrote also hold our ``__meta__`` provenance (the tools ignore extra entries). Statistics of two
different detectors, or of clean-fid's PIL-bicubic mode against a TF1 resize, are refused in one line;
torch bilinear (pytorch-fid) against TF1 bilinear is accepted with a warning (docs/facts.md, "Peer packages":
about 0.006 FID on FFHQ).
"""

from __future__ import annotations

import importlib
import io
import json
import os
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from sg2eval.cache import META_KEY
from sg2eval.errors import Sg2evalError
from sg2eval.features import FeatureSet
from sg2eval.metrics.fid import Covariance, FeatureMoments, GaussianStats
from sg2model.core.files import atomic_path, sha256_file

StatsFormat = Literal["pytorch-fid", "clean-fid", "torch-fidelity"]
STATS_FORMATS: tuple[str, ...] = ("pytorch-fid", "clean-fid", "torch-fidelity")
INCEPTION = "inception-v3-tf"
TF1_RESIZE, TORCH_RESIZE, PIL_BICUBIC = "tf1-bilinear", "torch-bilinear", "pil-bicubic"
CLEANFID_MODES = {"legacy_tensorflow": TF1_RESIZE, "legacy_pytorch": TORCH_RESIZE, "clean": PIL_BICUBIC}
_CLEANFID_NAME = re.compile(
    r"^(?P<name>.+?)_(?P<mode>clean|legacy_tensorflow|legacy_pytorch)(?:_(?P<model>[a-z0-9_]+?))?"
    r"_(?P<split>[a-z0-9]+)_(?P<res>[a-z0-9]+)(?P<kid>_kid)?\.npz$"
)
FIDELITY_SUFFIX = "-inception-v3-compat-stat-fid-2048.pt"


class InteropWarning(UserWarning):
    """Two sides were made with slightly different preprocessing (e.g. pytorch-fid's resize)."""


@dataclass(frozen=True)
class FeatureSpace:
    """What a set of features measures: the detector (network and layer) and the resize before it."""

    detector: str  # 'inception-v3-tf' (TF Inception pool3, 2048) or a description of another network
    resize: str  # 'tf1-bilinear', 'torch-bilinear', 'pil-bicubic', or a detector's preprocessing id

    def describe(self) -> dict[str, str]:
        return {"detector": self.detector, "resize": self.resize}


def space_of_detector(name: str, preprocess: str) -> FeatureSpace:
    """The space of one of our detectors: both Inception weight formats resize as TF1 (inception.py)."""
    return FeatureSpace(name, TF1_RESIZE if name == INCEPTION else preprocess)


def space_of(provenance: dict[str, Any]) -> FeatureSpace | None:
    """The feature space a side's provenance records (None: unknown, e.g. a plain feature array)."""
    if "feature_space" in provenance:
        return FeatureSpace(**provenance["feature_space"])
    identity = provenance.get("detector_identity")
    if identity is None:
        return None
    return space_of_detector(identity["name"], identity["preprocess"])


def check_same_space(real: FeatureSpace | None, fake: FeatureSpace | None) -> None:
    """Refuse two sides measured with different detectors or with PIL-bicubic against another resize; warn
    on the small torch-vs-TF1 bilinear difference."""
    if real is None or fake is None or real == fake:
        return
    if real.detector != fake.detector:
        raise Sg2evalError(
            f"the real side was measured with {real.detector} and the fake side with {fake.detector}; "
            "FID needs one detector for both (recompute one side, or pass statistics of the same detector)"
        )
    resizes = {real.resize, fake.resize}
    if PIL_BICUBIC in resizes:
        raise Sg2evalError(
            f"one side was resized with PIL bicubic (clean-fid mode 'clean') and the other with "
            f"{sorted(resizes - {PIL_BICUBIC})[0]}; "
            "use clean-fid's legacy_tensorflow statistics with sg2eval, or compute both sides with clean-fid"
        )
    warnings.warn(
        f"the sides were resized differently ({real.resize} vs {fake.resize}; pytorch-fid resizes with torch "
        "bilinear): FID differs slightly from the TF value for images not 299x299 (docs/interop.md)",
        InteropWarning,
        stacklevel=3,
    )


@dataclass(frozen=True)
class StatsSet:
    """Mean and covariance of one side read from a statistics file, with where they came from."""

    stats: GaussianStats
    provenance: dict[str, Any]
    covariance: Covariance = "unbiased"

    def gaussian(self, covariance: Covariance) -> GaussianStats:
        if covariance != self.covariance:
            raise Sg2evalError(
                f"{self.provenance['stats_file']['path']} holds a {self.covariance} covariance; "
                f"run FID with --covariance {self.covariance}"
            )
        return self.stats


# ------------------------------------------------------------------------------------------------------
# Telling files apart


def _npz_names(path: Path) -> list[str] | None:
    """The entry names of an ``.npz`` (None when it is not one)."""
    if path.suffix.lower() != ".npz" or not path.is_file() or not zipfile.is_zipfile(path):
        return None
    with zipfile.ZipFile(path) as archive:
        return [name[:-4] if name.endswith(".npy") else name for name in archive.namelist()]


def is_stats_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an ``.npz`` with ``mu`` and ``sigma``, or a ``.pt`` (torch-fidelity statistics)."""
    file = Path(path)
    if file.suffix.lower() == ".pt" and file.is_file():
        return True
    names = _npz_names(file)
    return names is not None and {"mu", "sigma"} <= set(names)


def is_cleanfid_features_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is clean-fid's KID file (``..._kid.npz`` holding ``feats``)."""
    names = _npz_names(Path(path))
    return names is not None and "feats" in names and "mu" not in names


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise Sg2evalError(f"{path} cannot be read as an .npz statistics file ({error})") from error


def _numpy_safe_globals() -> list[Any]:
    """What a pickled dict of numpy arrays needs under ``torch.load(weights_only=True)``, under both numpy 1
    and numpy 2 module names."""
    module = "numpy._core.multiarray" if hasattr(np, "_core") else "numpy.core.multiarray"
    multiarray = importlib.import_module(module)
    reconstruct = multiarray._reconstruct
    dtypes = [type(np.dtype(t)) for t in ("float16", "float32", "float64")]
    return [
        reconstruct,
        (reconstruct, "numpy.core.multiarray._reconstruct"),
        np.ndarray,
        np.dtype,
        *dtypes,
    ]


def _load_fidelity(path: Path) -> dict[str, Any]:
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a file that is not a statistics pickle
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise Sg2evalError(
            f"{path} is not a torch-fidelity statistics file ({first[:120]}); pass a "
            f"*-stat-fid-2048.pt file from $TORCH_HOME/fidelity_cache"
        ) from error
    if not isinstance(loaded, dict) or not {"mu", "sigma"} <= set(loaded):
        raise Sg2evalError(f"{path} holds no 'mu' and 'sigma'; it is not a torch-fidelity statistics file")
    return loaded


def _meta(arrays: dict[str, np.ndarray]) -> dict[str, Any] | None:
    if META_KEY not in arrays:
        return None
    meta = json.loads(str(arrays[META_KEY]))
    return meta if isinstance(meta, dict) else None


def cleanfid_space(path: Path) -> tuple[FeatureSpace, dict[str, str]] | None:
    """The space a clean-fid file name says (None when the name is not clean-fid's)."""
    match = _CLEANFID_NAME.match(path.name)
    if match is None:
        return None
    parts = {k: v for k, v in match.groupdict().items() if v is not None}
    model = parts.get("model")
    detector = INCEPTION if model is None else f"clean-fid {model}"
    return FeatureSpace(detector, CLEANFID_MODES[parts["mode"]]), parts


def fidelity_space(path: Path, dim: int) -> FeatureSpace:
    """The space of a torch-fidelity file, from its name (``{input}-{extractor}-stat-fid-{layer}.pt``);
    a file not named so is taken to be ``inception-v3-compat`` when 2048-d (torch-fidelity's default)."""
    name = path.name
    if name.endswith(FIDELITY_SUFFIX) or ("-stat-fid-" not in name and dim == 2048):
        return FeatureSpace(INCEPTION, TF1_RESIZE)
    stem = name.rsplit("-stat-fid-", 1)
    what = f"{stem[0].split('-', 1)[-1]} layer {stem[1][:-3]}" if len(stem) == 2 else f"{dim}-d features"
    return FeatureSpace(f"torch-fidelity {what}", "torch-fidelity")


def _check_shapes(path: Path, mu: np.ndarray, sigma: np.ndarray) -> None:
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise Sg2evalError(
            f"{path} holds mu {list(mu.shape)} and sigma {list(sigma.shape)}; expected [D] and [D, D]"
        )
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise Sg2evalError(f"{path} holds non-finite statistics; recompute it")


def read_stats_file(path: str | os.PathLike[str]) -> StatsSet:
    """Read a pytorch-fid / clean-fid ``.npz`` or a torch-fidelity ``.pt`` as a :class:`StatsSet`."""
    file = Path(path)
    meta: dict[str, Any] | None
    if file.suffix.lower() == ".pt":
        loaded = _load_fidelity(file)
        mu, sigma, fmt = np.asarray(loaded["mu"]), np.asarray(loaded["sigma"]), "torch-fidelity"
        meta = json.loads(loaded[META_KEY]) if isinstance(loaded.get(META_KEY), str) else None
        space = fidelity_space(file, int(mu.shape[0]))
        naming: dict[str, str] = {}
    else:
        arrays = _load_npz(file)
        if not {"mu", "sigma"} <= set(arrays):
            raise Sg2evalError(f"{file} holds no 'mu' and 'sigma' entries; it is not an FID statistics file")
        mu, sigma, meta = arrays["mu"], arrays["sigma"], _meta(arrays)
        told = cleanfid_space(file)
        if told is not None:
            fmt, (space, naming) = "clean-fid", told
        else:
            fmt, naming = "pytorch-fid", {}
            dim = int(mu.shape[0])
            detector = INCEPTION if dim == 2048 else f"pytorch-fid Inception block of {dim}"
            space = FeatureSpace(detector, TORCH_RESIZE)
    _check_shapes(file, mu, sigma)
    recorded = meta or {}
    if "feature_space" in recorded:
        space = FeatureSpace(**recorded["feature_space"])
    num = recorded.get("num")
    provenance: dict[str, Any] = {
        **{k: v for k, v in recorded.items() if k not in ("format", "feature_space")},
        "source": recorded.get("source", {"kind": f"{fmt} statistics"}),
        "stats_file": {"path": str(file), "format": fmt, "sha256": sha256_file(file), **naming},
        "feature_space": space.describe(),
        "num": num,
    }
    stats = GaussianStats(mu=mu.astype(np.float64), sigma=sigma.astype(np.float64), num=num)
    return StatsSet(stats, provenance)


# ------------------------------------------------------------------------------------------------------
# Writing


def check_writable(path: str | os.PathLike[str], fmt: str, space: FeatureSpace | None) -> None:
    """Refuse a format the tools would misread: statistics of another detector, or a name the tool's own
    look-up cannot find (clean-fid: ``{name}_legacy_tensorflow_{split}_{res}.npz``; torch-fidelity:
    ``{name}-inception-v3-compat-stat-fid-2048.pt``)."""
    if fmt not in STATS_FORMATS:
        raise Sg2evalError(f"unknown statistics format {fmt!r}; use one of {', '.join(STATS_FORMATS)}")
    if space is not None and space.detector != INCEPTION:
        raise Sg2evalError(
            f"--format {fmt} files hold Inception pool3 statistics, but these features come from "
            f"{space.detector}; use --detector {INCEPTION}"
        )
    name = Path(path).name
    if fmt == "clean-fid":
        match = _CLEANFID_NAME.match(name)
        if match is None or match["mode"] != "legacy_tensorflow" or match["model"] or match["kid"]:
            raise Sg2evalError(
                f"clean-fid finds statistics by name: call the file <name>_legacy_tensorflow_custom_na.npz "
                f"(lower case; sg2eval's Inception is clean-fid's legacy_tensorflow mode), not {name}"
            )
    elif fmt == "torch-fidelity" and not name.endswith(FIDELITY_SUFFIX):
        raise Sg2evalError(
            f"torch-fidelity finds statistics by name: call the file <name>{FIDELITY_SUFFIX} (and put it in "
            f"$TORCH_HOME/fidelity_cache to use it as input2_cache_name=<name>), not {name}"
        )
    elif fmt == "pytorch-fid" and not name.lower().endswith(".npz"):
        raise Sg2evalError(f"pytorch-fid reads statistics from .npz files; name the file {name}.npz")


def cleanfid_kid_path(path: str | os.PathLike[str]) -> Path:
    """The KID features file clean-fid keeps beside ``..._custom_na.npz``: ``..._custom_na_kid.npz``."""
    file = Path(path)
    return file.with_name(file.name[: -len(".npz")] + "_kid.npz")


def write_stats_file(
    path: str | os.PathLike[str],
    moments: FeatureMoments,
    provenance: dict[str, Any],
    fmt: StatsFormat,
    features: np.ndarray | None = None,
) -> list[Path]:
    """Write the unbiased statistics of ``moments`` in ``fmt`` (atomic); clean-fid also gets its
    ``_kid.npz`` features file when ``features`` [N, D] are given. Returns the files written."""
    space = space_of(provenance)
    check_writable(path, fmt, space)
    stats = moments.gaussian("unbiased")
    meta = {
        "format": f"sg2eval-stats-{fmt}-v1",
        **{k: v for k, v in provenance.items() if k != "cache"},
        "num": stats.num,
        "covariance": "unbiased",
    }
    if space is not None:
        meta["feature_space"] = space.describe()
    target = Path(path)
    if fmt == "torch-fidelity":
        payload = {
            "mu": stats.mu.astype(np.float32),
            "sigma": stats.sigma.astype(np.float64),
            META_KEY: json.dumps(meta, default=str),
        }
        with atomic_path(target) as tmp:
            torch.save(payload, tmp)
        return [target]
    written = [_savez(target, mu=stats.mu, sigma=stats.sigma, **{META_KEY: _meta_array(meta)})]
    if fmt == "clean-fid" and features is not None:
        written.append(_savez(cleanfid_kid_path(target), feats=np.asarray(features, dtype=np.float32)))
    return written


def _meta_array(meta: dict[str, Any]) -> np.ndarray:
    return np.asarray(json.dumps(meta, default=str))


def _savez(path: Path, **arrays: np.ndarray) -> Path:
    """``np.savez_compressed`` (what pytorch-fid and clean-fid write), atomically."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return path


def read_cleanfid_features(path: str | os.PathLike[str]) -> FeatureSet:
    """clean-fid's KID file (``..._kid.npz``, ``feats`` [N, D]) as a :class:`FeatureSet` for KID."""
    file = Path(path)
    arrays = _load_npz(file)
    feats = np.asarray(arrays["feats"])
    if feats.ndim != 2 or not np.issubdtype(feats.dtype, np.floating):
        raise Sg2evalError(f"{file} holds feats {list(feats.shape)} {feats.dtype}; expected float [N, D]")
    told = cleanfid_space(file)
    space = told[0] if told is not None else FeatureSpace(INCEPTION, TF1_RESIZE)
    provenance = {
        "source": {"kind": "clean-fid features"},
        "stats_file": {"path": str(file), "format": "clean-fid", "sha256": sha256_file(file)},
        "feature_space": space.describe(),
        "content_sha256": sha256_file(file),
        "num": len(feats),
    }
    return FeatureSet(feats.astype(np.float32, copy=False), provenance)
