"""Public Python API of the distribution metrics: ``fid``, ``kid``, ``precision_recall``,
``inception_score`` and ``compute_features``.

Each takes two sources (or one, for ``compute_features``) in any form :func:`resolve_input` accepts — a path
(image folder, zip, ``.npy``/``.npz`` images, network file, features file), a uint8 image array ``[N,H,W]``,
NHWC or NCHW, a float feature array ``[N, D]``, an :class:`~sg2eval.sources.ImageSource` or a
:class:`~sg2eval.features.FeatureSet` — and returns a :class:`~sg2eval.result.Result` whose provenance names
the sources and their content hashes, the detector and its weights (hash, verified), seeds, versions, device
and elapsed time. The CLI commands are thin wrappers over these functions.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypedDict, Union

import numpy as np
import torch
from typing_extensions import Unpack

from sg2eval.cache import FeatureCache
from sg2eval.detectors import Detector, get_detector
from sg2eval.detectors.base import tf32_disabled
from sg2eval.errors import Sg2evalError
from sg2eval.features import (
    FeatureSet,
    MomentSet,
    detector_identity,
    extract_features,
    extract_moments,
    is_features_file,
    moments_of,
    read_features_file,
)
from sg2eval.metrics.fid import Covariance, compute_fid
from sg2eval.metrics.inception_score import inception_score as compute_inception_score
from sg2eval.metrics.kid import KidConfig, compute_kid
from sg2eval.metrics.linalg import SqrtmMethod
from sg2eval.metrics.pr import DistanceDtype, PrConfig, compute_precision_recall
from sg2eval.naming import mention
from sg2eval.reference_stats import is_reference_name, read_reference_stats
from sg2eval.result import Result, Stopwatch, provenance
from sg2eval.sources import ImageSource, NetworkSource, open_source
from sg2eval.sources.arrays import Layout
from sg2eval.stats_formats import (
    StatsSet,
    check_same_space,
    is_cleanfid_features_file,
    is_stats_file,
    read_cleanfid_features,
    read_stats_file,
    space_of,
)
from sg2model.core.checks import check_fields
from sg2model.core.device import resolve_device

SourceLike = Union[str, "os.PathLike[str]", np.ndarray, torch.Tensor, ImageSource, FeatureSet]
DetectorLike = str | Callable[[torch.Tensor], Any]
Num = int | str | None


@dataclass(frozen=True)
class RunOptions:
    """How to turn sources into features: generation options (network sources), detector, batching, cache.

    ``seed``/``truncation``/``noise_mode``/``class_idx`` apply to every network source; ``layout`` to image
    arrays; ``device='auto'`` picks CUDA when available.
    """

    detector: DetectorLike = "inception-v3-tf"
    weights: str | None = None
    seed: int = 0
    truncation: float = 1.0
    noise_mode: str = "random"
    class_idx: int | None = None
    layout: Layout = "auto"
    batch_size: int = 64
    device: str = "auto"
    cache: bool = True
    cache_generated: bool = True  # also store features of network sources (off for training snapshots)
    cache_dir: str | None = None
    progress: bool = False  # progress on stderr (sg2eval.progress): off in Python unless asked

    def __post_init__(self) -> None:
        check_fields(self, ("seed", "truncation", "batch_size"), Sg2evalError)  # as the CLI

    def torch_device(self) -> torch.device:
        return resolve_device(self.device)


class RunKwargs(TypedDict, total=False):
    """The :class:`RunOptions` fields, as keyword arguments of the API functions."""

    detector: DetectorLike
    weights: str | None
    seed: int
    truncation: float
    noise_mode: str
    class_idx: int | None
    layout: Layout
    batch_size: int
    device: str
    cache: bool
    cache_generated: bool
    cache_dir: str | None
    progress: bool


def resolve_input(spec: SourceLike, options: RunOptions) -> ImageSource | FeatureSet | StatsSet:
    """A features file, feature array or FeatureSet -> FeatureSet; a statistics file of pytorch-fid, clean-fid
    or torch-fidelity -> StatsSet (:mod:`sg2eval.stats_formats`); anything else -> ImageSource."""
    if isinstance(spec, (FeatureSet, ImageSource, StatsSet)):
        return spec
    if isinstance(spec, torch.Tensor):
        spec = spec.detach().cpu().numpy()
    if isinstance(spec, np.ndarray):
        if spec.ndim == 2 and np.issubdtype(spec.dtype, np.floating):
            return _feature_array(spec)
        return open_source(spec, layout=options.layout)
    if is_reference_name(spec):
        return read_reference_stats(str(spec))
    if is_features_file(spec):
        return read_features_file(spec)
    if is_stats_file(spec):
        return read_stats_file(spec)
    if is_cleanfid_features_file(spec):
        return read_cleanfid_features(spec)
    return open_source(
        spec,
        seed=options.seed,
        truncation=options.truncation,
        noise_mode=options.noise_mode,
        class_idx=options.class_idx,
        layout=options.layout,
        device=options.torch_device(),
    )


def _feature_array(features: np.ndarray) -> FeatureSet:
    digest = hashlib.sha256(np.ascontiguousarray(features, dtype=np.float32).tobytes()).hexdigest()
    provenance = {
        "source": {"kind": "feature-array", "shape": list(features.shape)},
        "content_sha256": digest,
        "num": len(features),
    }
    return FeatureSet(features.astype(np.float32, copy=False), provenance)


def _first_rows(features: FeatureSet, num: Num) -> FeatureSet:
    if num is None or num == "all":
        return features
    count = int(num)
    if not 1 <= count <= len(features.features):
        raise Sg2evalError(
            f"{len(features.features)} feature vectors were given but {count} were asked for; "
            f"use {mention('num', len(features.features))} or fewer"
        )
    return FeatureSet(features.features[:count], {**features.provenance, "num": count})


class Session:
    """One metric computation: resolved inputs, a detector built only if some input needs images."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.device = options.torch_device()
        self.cache = FeatureCache(options.cache_dir, enabled=options.cache)
        self.clock = Stopwatch()
        self._detector: Detector | None = None

    @property
    def detector(self) -> Detector:
        if self._detector is None:
            self._detector = get_detector(self.options.detector, self.options.weights, self.device)
        return self._detector

    def features(self, spec: SourceLike, num: Num, role: str) -> FeatureSet:
        resolved = resolve_input(spec, self.options)
        if isinstance(resolved, StatsSet):
            raise Sg2evalError(
                f"{resolved.provenance['stats_file']['path']} holds only a mean and covariance (FID "
                f"statistics); this metric needs features: pass the images, or a features file"
            )
        if isinstance(resolved, FeatureSet):
            return _first_rows(resolved, num)
        return self._with_seeds(
            extract_features(
                resolved,
                self.detector,
                num,
                self.options.batch_size,
                self._cache_for(resolved),
                self.options.progress,
                role,
            ),
            resolved,
        )

    def moments(self, spec: SourceLike, num: Num, role: str) -> MomentSet | StatsSet:
        """The side's float64 moments, or the statistics a file holds (used whole: ``num`` does not apply)."""
        resolved = resolve_input(spec, self.options)
        if isinstance(resolved, StatsSet):
            return resolved
        if isinstance(resolved, FeatureSet):
            return moments_of(_first_rows(resolved, num), self.device)
        found = extract_moments(
            resolved,
            self.detector,
            num,
            self.options.batch_size,
            self._cache_for(resolved),
            self.options.progress,
            role,
            self.device,
        )
        return MomentSet(found.moments, self._seeds(found.provenance, resolved))

    def _cache_for(self, source: ImageSource) -> FeatureCache | None:
        """The feature store, unless ``source`` is a network and ``cache_generated`` is off."""
        generated = isinstance(source, NetworkSource)
        return self.cache if self.options.cache_generated or not generated else None

    def _with_seeds(self, features: FeatureSet, source: ImageSource) -> FeatureSet:
        return FeatureSet(features.features, self._seeds(features.provenance, source))

    @staticmethod
    def _seeds(provenance: dict[str, Any], source: ImageSource) -> dict[str, Any]:
        if not isinstance(source, NetworkSource):
            return provenance
        first = source.seed
        return {**provenance, "seeds": [first, first + int(provenance["num"]) - 1]}

    def finish(self, result: Result, real: dict[str, Any], fake: dict[str, Any]) -> Result:
        """Check that both sides used one detector; attach sources, detector, versions, device, time."""
        reference = detector_identity(self._detector) if self._detector is not None else None
        for role, side in (("real", real), ("fake", fake)):
            recorded = side.get("detector_identity")
            if reference is None:
                reference = recorded
            elif recorded is not None and recorded != reference:
                raise Sg2evalError(
                    f"the {role} features were computed with {recorded['name']} (weights "
                    f"{str(recorded['weights_sha256'])[:12]}) but the other side used "
                    f"{reference['name']} (weights {str(reference['weights_sha256'])[:12]}); "
                    "use one detector and weights for both"
                )
        check_same_space(space_of(real), space_of(fake))  # statistics files of other tools
        detector = self._detector.describe() if self._detector is not None else real.get("detector")
        made = provenance(
            self.clock,
            self.device,
            sources={"real": _without_detector(real), "fake": _without_detector(fake)},
            detector=detector,
            details={"cache_dir": str(self.cache.root) if self.cache.enabled else None},
        )
        return result.with_provenance(**made)


def _without_detector(provenance: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in provenance.items() if k not in ("detector", "detector_identity")}


def make_session(default_detector: str, options: RunKwargs) -> Session:
    return Session(replace(RunOptions(detector=default_detector), **options))


def fid(
    real: SourceLike,
    fake: SourceLike,
    *,
    num: Num = None,
    num_real: Num = None,
    num_fake: Num = None,
    covariance: Covariance = "unbiased",
    sqrtm: SqrtmMethod = "eigh",
    **options: Unpack[RunKwargs],
) -> Result:
    """Fréchet Inception Distance between ``real`` and ``fake`` (:mod:`sg2eval.metrics.fid`).

    ``num`` images of each (``num_real``/``num_fake`` override; default all of a finite source, 50 000
    generated); ``covariance='unbiased'`` (TF, N-1) or ``'biased'`` (ada, N); ``sqrtm`` picks the route of
    :func:`~sg2eval.metrics.linalg.trace_sqrt_product`.

    >>> sg2eval.fid("ffhq.zip", "network-snapshot-005000.pkl", num=50_000).value  # doctest: +SKIP
    >>> sg2eval.fid("real/", "fake/", covariance="biased", device="cuda:1")        # doctest: +SKIP
    """
    session = make_session("inception-v3-tf", options)
    real_set = session.moments(real, _pick(num_real, num), "real")
    fake_set = session.moments(fake, _pick(num_fake, num), "fake")
    return score_fid(session, real_set, fake_set, covariance, sqrtm)


def kid(
    real: SourceLike,
    fake: SourceLike,
    *,
    num: Num = None,
    num_real: Num = None,
    num_fake: Num = None,
    num_subsets: int = 100,
    subset_size: int = 1000,
    subset_seed: int = 2020,
    **options: Unpack[RunKwargs],
) -> Result:
    """Kernel Inception Distance (:mod:`sg2eval.metrics.kid`): ``values={"kid": mean, "kid_std": std}``
    over ``num_subsets`` subsets of ``subset_size`` drawn with ``RandomState(subset_seed)``.

    >>> sg2eval.kid("ffhq.zip", "net.pkl", num_fake=50_000).values["kid"]  # doctest: +SKIP
    """
    session = make_session("inception-v3-tf", options)
    real_set = session.features(real, _pick(num_real, num), "real")
    fake_set = session.features(fake, _pick(num_fake, num), "fake")
    config = KidConfig(num_subsets=num_subsets, subset_size=subset_size, seed=subset_seed)
    return score_kid(session, real_set, fake_set, config)


def precision_recall(
    real: SourceLike,
    fake: SourceLike,
    *,
    num: Num = None,
    num_real: Num = None,
    num_fake: Num = None,
    k: int = 3,
    distance_dtype: DistanceDtype = "float32",
    row_batch: int = 10_000,
    col_batch: int = 10_000,
    **options: Unpack[RunKwargs],
) -> Result:
    """Improved precision and recall (:mod:`sg2eval.metrics.pr`) on VGG16 fc2 features by default:
    ``values={"precision": ..., "recall": ...}``; distances on the run's device.

    >>> sg2eval.precision_recall("ffhq.zip", "net.pkl", num=50_000, k=3).values  # doctest: +SKIP
    """
    session = make_session("vgg16-nv", options)
    real_set = session.features(real, _pick(num_real, num), "real")
    fake_set = session.features(fake, _pick(num_fake, num), "fake")
    config = PrConfig(k=k, row_batch=row_batch, col_batch=col_batch, distance_dtype=distance_dtype)
    return score_pr(session, real_set, fake_set, config)


def inception_score(
    source: SourceLike,
    *,
    num: Num = None,
    splits: int = 10,
    shuffle_seed: int | None = None,
    **options: Unpack[RunKwargs],
) -> Result:
    """Inception Score (:mod:`sg2eval.metrics.inception_score`) of one source on the unbiased logits of the
    TF Inception (``inception-v3-tf-logits``): ``values={"is": mean, "is_std": std}`` over ``splits``
    chunks in source order (``shuffle_seed=2020`` permutes first, as torch-fidelity does).

    >>> sg2eval.inception_score("network-snapshot-005000.pkl", num=50_000).values  # doctest: +SKIP
    """
    session = make_session("inception-v3-tf-logits", options)
    found = session.features(source, num, "images")
    return score_is(session, found, splits, shuffle_seed)


# ----------------------------------------------------------------------------------------------------------
# Scoring: the one place each metric's number is made from the two sides (batch API and incremental objects).


def score_fid(
    session: Session,
    real: MomentSet | StatsSet,
    fake: MomentSet | StatsSet,
    covariance: Covariance,
    sqrtm: SqrtmMethod,
) -> Result:
    """FID of two sides' float64 moments (or statistics files), with both sides' provenance."""
    result = compute_fid(real.gaussian(covariance), fake.gaussian(covariance), sqrtm, covariance)
    return session.finish(result, real.provenance, fake.provenance)


def score_kid(session: Session, real: FeatureSet, fake: FeatureSet, config: KidConfig) -> Result:
    """KID of two sides' features, with both sides' provenance."""
    return session.finish(compute_kid(real.features, fake.features, config), real.provenance, fake.provenance)


def score_pr(session: Session, real: FeatureSet, fake: FeatureSet, config: PrConfig) -> Result:
    """Precision and recall of two sides' features: distances on the session's device with TF32 off, as the
    official metric code runs them (docs/facts.md, "Metrics / Common"); both sides' provenance."""
    with tf32_disabled():
        result = compute_precision_recall(real.features, fake.features, config, session.device)
    return session.finish(result, real.provenance, fake.provenance)


def score_is(session: Session, logits: FeatureSet, splits: int, shuffle_seed: int | None) -> Result:
    """Inception Score of one side's logits, with its provenance; features of another detector are refused."""
    recorded = logits.provenance.get("detector_identity")
    if recorded is not None and recorded["name"] != "inception-v3-tf-logits":
        raise Sg2evalError(
            f"the Inception Score needs the logits of inception-v3-tf-logits, but these features come from "
            f"{recorded['name']}; recompute them with --detector inception-v3-tf-logits"
        )
    result = compute_inception_score(logits.features, splits, shuffle_seed)
    detector = (
        session._detector.describe() if session._detector is not None else logits.provenance.get("detector")
    )
    made = provenance(
        session.clock,
        session.device,
        sources={"images": _without_detector(logits.provenance)},
        detector=detector,
    )
    return result.with_provenance(**made)


def compute_features(
    source: SourceLike,
    *,
    num: Num = None,
    **options: Unpack[RunKwargs],
) -> FeatureSet:
    """Detector features ``[N, D]`` of a source (cached), with provenance; write them with
    :func:`sg2eval.features.write_features_file` to reuse them as a source later.

    >>> feats = sg2eval.compute_features("ffhq.zip", num=50_000)  # doctest: +SKIP
    >>> sg2eval.fid(feats, "net.pkl")                              # doctest: +SKIP
    """
    session = make_session("inception-v3-tf", options)
    found = session.features(source, num, "features")
    return FeatureSet(found.features, {**found.provenance, **provenance(session.clock, session.device)})


def _pick(specific: Num, shared: Num) -> Num:
    return specific if specific is not None else shared


RUN_OPTIONS_DOC = """
    Sources (``real``, ``fake``, ``source``): a path (image folder, ``.zip``, ``.npy``/``.npz`` uint8 images,
    network file ``.sg2``/``.pkl``, features file), a uint8 image array or tensor (``[N, H, W]``, NHWC or
    NCHW), a float feature array ``[N, D]``, an ``ImageSource`` or a ``FeatureSet``.

    Run options (keyword arguments, the fields of :class:`RunOptions`; the CLI's options of the same names):
    ``detector`` (a registered name, ``torchscript:PATH`` or a callable), ``weights`` (its weight file),
    ``seed``/``truncation``/``noise_mode``/``class_idx`` (network sources: image i from seed ``seed + i``),
    ``layout`` (image arrays), ``batch_size``, ``device`` ('auto', 'cpu', 'cuda:N'), ``cache``,
    ``cache_generated``, ``cache_dir``, ``progress``.

    Progress is off by default in Python; ``progress=True`` shows it on standard error: rich bars when that
    is a terminal, else a plain line every ``$SG2EVAL_PROGRESS_INTERVAL`` seconds (default 30), e.g.
    ``real: 2048 / 50000 images, 40 s, ETA 15 min`` (:mod:`sg2eval.progress`). The CLI shows it unless
    ``--no-progress`` is given. Errors name these arguments (``weights='FILE'``), where the CLI's name its
    options (``--weights FILE``).
"""
for _function in (fid, kid, precision_recall, inception_score, compute_features):
    _function.__doc__ = f"{_function.__doc__}{RUN_OPTIONS_DOC}"
