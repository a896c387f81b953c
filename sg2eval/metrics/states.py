"""Metric states: what a metric accumulates before it computes, in a form that merges across shards.

Two kinds cover every metric of the toolkit:

- float64 feature moments for FID (:class:`sg2eval.metrics.fid.FeatureMoments`): a sum, merged by adding the
  sums (re-centred on one shift);
- :class:`ItemRows` for everything computed per item (detector features for KID and precision/recall, PPL
  pair scores, separability's latents and logits, projection distances): rows kept with their item indices,
  merged by putting the shards' rows in item order.

A state takes ``update`` calls (one per batch), ``merge`` with the state of another shard of the same job
(another process, another call), and hands its contents to the metric's compute step. Merging in item order
makes a result independent of how the items were split (docs/architecture.md, "One evaluation layer").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sg2eval.errors import Sg2evalError


class ItemRows:
    """Named per-item arrays ``{name: [n, ...]}`` of items ``start .. start + n - 1``, chunk by chunk."""

    def __init__(self) -> None:
        self._chunks: list[tuple[int, dict[str, np.ndarray]]] = []

    def __len__(self) -> int:
        return sum(_rows(arrays) for _, arrays in self._chunks)

    def update(self, start: int, **arrays: Any) -> None:
        """Add the rows of items ``start ..`` (every array with the same first axis)."""
        chunk = {name: np.asarray(value) for name, value in arrays.items()}
        if not chunk:
            raise Sg2evalError("an ItemRows update needs at least one named array")
        _rows(chunk)
        if self._chunks and set(chunk) != set(self._chunks[0][1]):
            raise Sg2evalError(f"rows {sorted(chunk)} do not match the state's {sorted(self._chunks[0][1])}")
        self._chunks.append((int(start), chunk))

    def merge(self, other: ItemRows) -> ItemRows:
        """A state holding the rows of both (their item ranges must not overlap)."""
        merged = ItemRows()
        merged._chunks = [*self._chunks, *other._chunks]
        merged.arrays()  # checks that the ranges are disjoint
        return merged

    def arrays(self, expected: int | None = None) -> dict[str, np.ndarray]:
        """Every row in item order, ``{name: [N, ...]}``; the items must be ``0 .. N-1`` without gaps (or
        ``expected`` of them when given)."""
        if not self._chunks:
            raise Sg2evalError("no items were added; the source is empty")
        order = sorted(self._chunks, key=lambda chunk: chunk[0])
        position = 0
        for start, arrays in order:
            if start != position:
                what = "overlap" if start < position else "leave a gap"
                raise Sg2evalError(f"the shards' items {what} at item {min(start, position)}")
            position += _rows(arrays)
        if expected is not None and position != expected:
            raise Sg2evalError(f"{position} items were added, {expected} expected")
        names = list(order[0][1])
        return {name: np.concatenate([arrays[name] for _, arrays in order]) for name in names}

    def state(self) -> list[tuple[int, dict[str, np.ndarray]]]:
        """The chunks, for sending to another process (:meth:`from_state`)."""
        return list(self._chunks)

    @classmethod
    def from_state(cls, chunks: Sequence[tuple[int, Mapping[str, np.ndarray]]]) -> ItemRows:
        rows = cls()
        for start, arrays in chunks:
            rows.update(start, **arrays)
        return rows


def _rows(arrays: Mapping[str, np.ndarray]) -> int:
    lengths = {len(value) for value in arrays.values()}
    if len(lengths) != 1:
        raise Sg2evalError(f"per-item arrays of one chunk differ in length: {sorted(lengths)}")
    return lengths.pop()
