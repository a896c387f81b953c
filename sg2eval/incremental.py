"""Incremental metric objects for training loops and analysis scripts: ``sg2eval.FID``, ``sg2eval.KID``,
``sg2eval.PrecisionRecall``.

The real side is measured once, when the object is made, from any source the batch API takes (a folder,
zip, array, network file, features file), with the same cache; generated images then arrive batch by batch
(:meth:`IncrementalMetric.update`, uint8 ``[N, C, H, W]`` arrays or tensors of any batch size) and
:meth:`~IncrementalMetric.compute` scores them with the batch API's own scoring step
(:func:`sg2eval.api.score_fid` and its siblings), so the numbers equal ``sg2eval.fid(real, fake)`` on the
same images. Under torchrun each process updates with its own images; ``compute`` gathers every process's
state (float64 moments summed in rank order, features concatenated rank by rank) and every process returns
the same result. :meth:`~IncrementalMetric.reset` forgets the generated images and keeps the real side.

>>> fid = sg2eval.FID(real="ffhq.zip", num_real=50_000)  # doctest: +SKIP
>>> for images in batches:  # uint8 [B, 3, H, W]                    # doctest: +SKIP
...     fid.update(images)
>>> fid.compute().value                                            # doctest: +SKIP
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import torch
from typing_extensions import Unpack

from sg2eval.api import Num, RunKwargs, Session, SourceLike, make_session, score_fid, score_kid, score_pr
from sg2eval.distributed import collect, gather_moments
from sg2eval.features import FeatureSet, MomentSet, detector_identity
from sg2eval.metrics.fid import Covariance, FeatureMoments
from sg2eval.metrics.kid import KidConfig
from sg2eval.metrics.linalg import SqrtmMethod
from sg2eval.metrics.pr import DistanceDtype, PrConfig
from sg2eval.result import Result
from sg2eval.stats_formats import StatsSet


class IncrementalMetric(ABC):
    """A metric whose generated side is fed batch by batch (see the module docstring)."""

    def __init__(self, default_detector: str, options: RunKwargs) -> None:
        self.session: Session = make_session(default_detector, options)
        self.num_updates = 0
        self.num_images = 0

    def update(self, images: np.ndarray | torch.Tensor) -> None:
        """Add generated images: uint8 ``[N, C, H, W]`` (C = 1 or 3), an array or a tensor on any device."""
        features = self.session.detector(torch.as_tensor(images).detach().cpu())  # [N, D] float32
        self._add(features)
        self.num_updates += 1
        self.num_images += int(features.shape[0])

    def reset(self) -> None:
        """Forget the generated images (the real side stays)."""
        self.num_updates = self.num_images = 0
        self._clear()

    @abstractmethod
    def compute(self) -> Result:
        """The metric of the images added so far (on every process, over every process's images)."""

    @abstractmethod
    def _add(self, features: torch.Tensor) -> None: ...

    @abstractmethod
    def _clear(self) -> None: ...

    def _fake_provenance(self, num: int) -> dict[str, Any]:
        detector = self.session.detector
        return {
            "source": {"kind": "incremental", "updates": self.num_updates},
            "num": num,
            "detector": detector.describe(),
            "detector_identity": detector_identity(detector),
        }


class FID(IncrementalMetric):
    """Fréchet Inception Distance (:func:`sg2eval.fid`) against ``real`` of the images given to
    :meth:`update`; ``num_real`` images of ``real`` (all of a finite source by default)."""

    def __init__(
        self,
        real: SourceLike,
        *,
        num_real: Num = None,
        covariance: Covariance = "unbiased",
        sqrtm: SqrtmMethod = "eigh",
        **options: Unpack[RunKwargs],
    ) -> None:
        super().__init__("inception-v3-tf", options)
        self.covariance, self.sqrtm = covariance, sqrtm
        self.real: MomentSet | StatsSet = self.session.moments(real, num_real, "real")
        self._fake: FeatureMoments | None = None

    def _add(self, features: torch.Tensor) -> None:
        if self._fake is None:
            self._fake = FeatureMoments(int(features.shape[1]), self.session.device)
        self._fake.update(features)

    def _clear(self) -> None:
        self._fake = None

    def compute(self) -> Result:
        moments = gather_moments(lambda: self._fake)
        fake = MomentSet(moments, self._fake_provenance(moments.num))
        return score_fid(self.session, self.real, fake, self.covariance, self.sqrtm)


class _FeatureMetric(IncrementalMetric):
    """The generated side kept as features (KID, precision/recall), gathered rank by rank."""

    def __init__(self, default_detector: str, real: SourceLike, num_real: Num, options: RunKwargs) -> None:
        super().__init__(default_detector, options)
        self.real: FeatureSet = self.session.features(real, num_real, "real")
        self._batches: list[np.ndarray] = []

    def _add(self, features: torch.Tensor) -> None:
        self._batches.append(features.numpy())

    def _clear(self) -> None:
        self._batches = []

    def fake_features(self) -> FeatureSet:
        """Every process's features so far, rank 0's first, each in update order."""
        dim = self.real.features.shape[1]
        parts = collect(
            lambda: np.concatenate(self._batches) if self._batches else np.zeros((0, dim), np.float32)
        )
        features = np.concatenate(parts)
        return FeatureSet(features, self._fake_provenance(len(features)))


class KID(_FeatureMetric):
    """Kernel Inception Distance (:func:`sg2eval.kid`) against ``real`` of the images given to
    :meth:`update`."""

    def __init__(
        self,
        real: SourceLike,
        *,
        num_real: Num = None,
        num_subsets: int = 100,
        subset_size: int = 1000,
        subset_seed: int = 2020,
        **options: Unpack[RunKwargs],
    ) -> None:
        super().__init__("inception-v3-tf", real, num_real, options)
        self.config = KidConfig(num_subsets=num_subsets, subset_size=subset_size, seed=subset_seed)

    def compute(self) -> Result:
        return score_kid(self.session, self.real, self.fake_features(), self.config)


class PrecisionRecall(_FeatureMetric):
    """Improved precision and recall (:func:`sg2eval.precision_recall`) against ``real`` of the images given
    to :meth:`update`."""

    def __init__(
        self,
        real: SourceLike,
        *,
        num_real: Num = None,
        k: int = 3,
        distance_dtype: DistanceDtype = "float32",
        row_batch: int = 10_000,
        col_batch: int = 10_000,
        **options: Unpack[RunKwargs],
    ) -> None:
        super().__init__("vgg16-nv", real, num_real, options)
        self.config = PrConfig(k=k, row_batch=row_batch, col_batch=col_batch, distance_dtype=distance_dtype)

    def compute(self) -> Result:
        return score_pr(self.session, self.real, self.fake_features(), self.config)
