"""Improved precision and recall (Kynkäniemi et al. 2019, Sec. 3; StyleGAN2 Table 1).

docs/facts.md, "Precision/recall": each sample's neighbourhood is a hypersphere around it whose squared radius
is the squared distance to its k-th nearest neighbour in its own set, i.e. the (k+1)-th smallest squared
distance in its row (the 0 distance to itself counts first). Precision is the share of fake samples that lie
within (``<=``) the neighbourhood of at least one real sample; recall is the share of real samples within
the neighbourhood of at least one fake sample. (prdc uses a strict ``<``; the two agree whenever no
distance equals a radius exactly.)

Distances are computed block by block on the torch device, ``row_batch`` x ``col_batch`` at a time
(10 000 x 10 000 as in the official code), keeping only the k+1 smallest per row, so 50k x 50k never needs
the full matrix; the fake x real blocks are computed once and serve both precision and recall.
``distance_dtype="float16"`` computes ``max(|u|^2 - 2 u.v + |v|^2, 0)`` in half precision
like the official TF code; the default ``"float32"`` is more accurate. Half precision ends at 65504: once
squared feature norms reach it the distances overflow to Inf/NaN and every comparison fails (precision and
recall both 0). Such a run is recomputed in float32, with a warning, and its params say so
(``distance_dtype: float32``, ``distance_dtype_requested: float16``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np
import torch

from sg2eval.distributed import collect, shard_range
from sg2eval.errors import Sg2evalError
from sg2eval.result import Result
from sg2model.core.checks import check_fields, require_finite

DistanceDtype = Literal["float32", "float16"]
T = TypeVar("T")


@dataclass(frozen=True)
class PrConfig:
    """Parameters of improved precision and recall (official ``pr50k3`` defaults)."""

    k: int = 3
    row_batch: int = 10_000
    col_batch: int = 10_000
    distance_dtype: DistanceDtype = "float32"

    def __post_init__(self) -> None:
        check_fields(self, ("k", "row_batch", "col_batch"), Sg2evalError)


class HalfPrecisionOverflow(Exception):
    """float16 distances of some block were not finite (internal: the metric falls back to float32)."""


def squared_distances(rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Pairwise squared Euclidean distances [R, C] of rows [R, D] and cols [C, D], in their dtype."""
    row_norms = rows.square().sum(dim=1, keepdim=True)  # [R, 1]
    col_norms = cols.square().sum(dim=1).unsqueeze(0)  # [1, C]
    distances = (row_norms - 2.0 * (rows @ cols.T) + col_norms).clamp_min(0.0)
    if distances.dtype == torch.float16 and not bool(torch.isfinite(distances).all()):
        raise HalfPrecisionOverflow
    return distances


def _blocks(tensor: torch.Tensor, size: int) -> list[tuple[int, torch.Tensor]]:
    return [(start, tensor[start : start + size]) for start in range(0, len(tensor), size)]


SELF_TILES = 4  # at least this many tiles per set: the k-NN radii compute 10 of the 16 tile products


def _tile_bounds(num: int, config: PrConfig) -> list[tuple[int, int]]:
    """[start, stop) of the square tiles of one set: at least SELF_TILES, none longer than the batches."""
    count = max(SELF_TILES, -(-num // min(config.row_batch, config.col_batch)))
    size = -(-num // count)
    return [(start, min(start + size, num)) for start in range(0, num, size)]


def _merge_smallest(smallest: torch.Tensor | None, block: torch.Tensor, k: int) -> torch.Tensor:
    """The k+1 smallest distances [R, k+1] of each row so far, merged with a new block [R, C]."""
    if smallest is not None:
        block = torch.cat([smallest, block], dim=1)
    take = min(k + 1, block.shape[1])
    return torch.topk(block.float(), take, dim=1, largest=False).values.to(block.dtype)


def knn_radii(features: torch.Tensor, config: PrConfig, items: range | None = None) -> torch.Tensor:
    """Squared distance of each sample [N, D] (or of the samples ``items``) to its k-th nearest neighbour in
    the same set [N] (or [len(items)]).

    The N x N distances are symmetric, so the set is cut into square tiles and each pair of tiles i <= j is
    computed once, as tile i x tile j, serving tile i's rows and (transposed) tile j's: 10 of 16 products
    with 4 tiles. The tiles are those of the whole set whatever ``items`` is, so a process computing a share
    of the rows gets the very numbers one process would."""
    num = len(features)
    if num < config.k + 1:
        raise Sg2evalError(
            f"precision/recall with k={config.k} needs at least {config.k + 1} samples, got {num}"
        )
    items = range(num) if items is None else items
    if len(items) == 0:
        return torch.zeros(0, dtype=features.dtype, device=features.device)
    tiles = _tile_bounds(num, config)
    mine = [t for t, (start, stop) in enumerate(tiles) if start < items.stop and items.start < stop]
    smallest: dict[int, torch.Tensor | None] = dict.fromkeys(mine)
    for i, (start_i, stop_i) in enumerate(tiles):
        for j in range(i, len(tiles)):
            if i not in smallest and j not in smallest:
                continue
            start_j, stop_j = tiles[j]
            block = squared_distances(features[start_i:stop_i], features[start_j:stop_j])  # [Ti, Tj]
            if i in smallest:
                smallest[i] = _merge_smallest(smallest[i], block, config.k)
            if j in smallest and j != i:
                smallest[j] = _merge_smallest(smallest[j], block.T, config.k)
    radii = torch.cat([found[:, config.k] for found in smallest.values() if found is not None])
    offset = tiles[mine[0]][0]
    return radii[items.start - offset : items.stop - offset]


def cross_membership(
    real: torch.Tensor,
    fake: torch.Tensor,
    real_radii: torch.Tensor,
    fake_radii: torch.Tensor,
    config: PrConfig,
    items: range | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One pass over the fake x real distance blocks answering both questions:
    fake [M] within (``<=``) the radius of some real sample, and real [N] within the radius of some fake.
    With ``items``, only those fake rows: their answers [len(items)], and real [N] for those fakes only."""
    items = range(len(fake)) if items is None else items
    fake = fake[items.start : items.stop]
    fake_radii = fake_radii[items.start : items.stop]
    fake_hit = torch.zeros(len(fake), dtype=torch.bool, device=fake.device)  # [M]
    real_hit = torch.zeros(len(real), dtype=torch.bool, device=real.device)  # [N]
    for row, rows in _blocks(fake, config.row_batch):
        row_radii = fake_radii[row : row + len(rows)].unsqueeze(1)  # [R, 1]
        for col, cols in _blocks(real, config.col_batch):
            block = squared_distances(rows, cols)  # [R, C]
            col_radii = real_radii[col : col + len(cols)].unsqueeze(0)  # [1, C]
            fake_hit[row : row + len(rows)] |= (block <= col_radii).any(1)
            real_hit[col : col + len(cols)] |= (block <= row_radii).any(0)
    return fake_hit, real_hit


def precision_recall_values(
    real: np.ndarray | torch.Tensor,
    fake: np.ndarray | torch.Tensor,
    config: PrConfig = PrConfig(),
    device: torch.device | str = "cpu",
) -> tuple[float, float]:
    """(precision, recall) of fake features [M, D] against real features [N, D]."""
    precision, recall, _ = _rates(real, fake, config, device)
    return precision, recall


def _rates(
    real: np.ndarray | torch.Tensor,
    fake: np.ndarray | torch.Tensor,
    config: PrConfig,
    device: torch.device | str,
) -> tuple[float, float, DistanceDtype]:
    """(precision, recall, the distance dtype used): float16 falls back to float32 when it overflows."""
    dtype = {"float32": torch.float32, "float16": torch.float16}.get(config.distance_dtype)
    if dtype is None:
        raise Sg2evalError(f"unknown distance dtype {config.distance_dtype!r}; use 'float32' or 'float16'")
    real_t, fake_t = torch.as_tensor(real), torch.as_tensor(fake)
    if real_t.ndim != 2 or fake_t.ndim != 2 or real_t.shape[1] != fake_t.shape[1]:
        raise Sg2evalError(
            "precision/recall needs two feature arrays [N, D] with the same D, "
            f"got {tuple(real_t.shape)} and {tuple(fake_t.shape)}"
        )
    for role, features in (("real", real_t), ("fake", fake_t)):
        require_finite(features, f"the {role} features", "the images or the detector gave NaN or Inf")
    with torch.no_grad():
        try:
            on_device = real_t.to(device, dtype), fake_t.to(device, dtype)
            fake_hit, real_hit = sharded_membership(*on_device, config)
        except HalfPrecisionOverflow:
            warnings.warn(
                "float16 distances overflowed (squared feature norms near or above 65504): precision and "
                "recall were recomputed with distance_dtype float32",
                stacklevel=3,
            )
            return _rates(real, fake, PrConfig(config.k, config.row_batch, config.col_batch), device)
    return float(fake_hit.double().mean()), float(real_hit.double().mean()), config.distance_dtype


def sharded_membership(
    real: torch.Tensor, fake: torch.Tensor, config: PrConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`cross_membership` with the k-NN radii, each process computing its share of the rows
    (:mod:`sg2eval.distributed`; one process computes all of them)."""

    def overflowing(parts: list[T | None]) -> list[T]:
        """Every rank's part; HalfPrecisionOverflow on every rank when one rank's float16 overflowed."""
        if any(part is None for part in parts):
            raise HalfPrecisionOverflow
        return [part for part in parts if part is not None]

    def radii(features: torch.Tensor) -> torch.Tensor:
        parts = overflowing(collect(lambda: _or_none(
            lambda: knn_radii(features, config, shard_range(len(features))).cpu()
        )))  # fmt: skip
        return torch.cat(parts).to(features.device)

    real_radii, fake_radii = radii(real), radii(fake)
    parts = overflowing(collect(lambda: _or_none(lambda: tuple(
        t.cpu() for t in cross_membership(real, fake, real_radii, fake_radii, config, shard_range(len(fake)))
    ))))  # fmt: skip
    fake_hit = torch.cat([part[0] for part in parts])
    real_hit = torch.stack([part[1] for part in parts]).any(dim=0)
    return fake_hit, real_hit


def _or_none(work: Callable[[], T]) -> T | None:
    """``work()``, or None when its float16 distances overflowed (so every rank learns it in one gather)."""
    try:
        return work()
    except HalfPrecisionOverflow:
        return None


def compute_precision_recall(
    real: np.ndarray | torch.Tensor,
    fake: np.ndarray | torch.Tensor,
    config: PrConfig = PrConfig(),
    device: torch.device | str = "cpu",
) -> Result:
    """Precision and recall as a Result (``values={"precision": ..., "recall": ...}``)."""
    precision, recall, used = _rates(real, fake, config, device)
    fallback = {} if used == config.distance_dtype else {"distance_dtype_requested": config.distance_dtype}
    params = {
        "num_real": int(len(real)),
        "num_fake": int(len(fake)),
        "k": config.k,
        "row_batch": config.row_batch,
        "col_batch": config.col_batch,
        "distance_dtype": used,
        **fallback,
        "comparison": "<=",
    }
    return Result(metric="pr", values={"precision": precision, "recall": recall}, params=params)
