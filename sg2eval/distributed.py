"""Evaluation across processes: each rank takes its own items, states are reduced in a fixed order.

Every metric runs unchanged under ``torchrun`` (docs/distributed.md): the process group is joined from
``torchrun``'s environment on first use (:func:`current_world`; gloo on CPUs, NCCL on GPUs, one device per
process). A job of ``num`` items (images, seeds, pairs, projection targets) is cut into contiguous ranges,
rank ``r`` of ``P`` taking items ``num * r // P .. num * (r + 1) // P - 1`` (:func:`shard_range`), so the
items and their seeds are those of the one-process run. :func:`collect` runs a rank's share and gathers every
rank's answer, or, when any rank failed, raises the same one-line error on every rank; the states then merge
in rank order (:func:`gather_rows`, :func:`gather_moments`), which is item order. Rank 0 alone writes outputs
and caches, and prints (:func:`is_main`).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sg2eval.errors import Sg2evalError
from sg2eval.metrics.fid import FeatureMoments
from sg2eval.metrics.states import ItemRows
from sg2model.core import distributed as core_dist
from sg2model.core.distributed import World
from sg2model.core.errors import Sg2Error

T = TypeVar("T")

_WORLD: World | None = None


def current_world(device: Any = "auto") -> World:
    """This process's place in the job: joins torchrun's process group once (device ``cuda:<LOCAL_RANK>``
    or the CPU); one process of one outside torchrun."""
    global _WORLD
    if _WORLD is None or (_WORLD.distributed and not core_dist.dist.is_initialized()):
        _WORLD = core_dist.world_from_env(device)
    return _WORLD


def is_main() -> bool:
    """Whether this process writes outputs and prints (rank 0, or the only process)."""
    return current_world().is_main


def shard_range(num: int, world: World | None = None) -> range:
    """This rank's contiguous share of items ``0 .. num - 1`` (sizes differ by at most one)."""
    world = world or current_world()
    return range(num * world.rank // world.size, num * (world.rank + 1) // world.size)


class JobError(Sg2evalError):
    """A failure of one process of a distributed job, raised on every process (rank 0 reports it)."""


@dataclass(frozen=True)
class _Outcome:
    """What a rank's share produced: its value, or the one-line error it raised."""

    value: Any = None
    error: str | None = None


def collect(work: Callable[[], T], world: World | None = None) -> list[T]:
    """Run this rank's ``work`` and return every rank's value, by rank. If any rank raised, every rank raises
    one :class:`JobError` naming the first failing rank and its message (so none is left waiting)."""
    world = world or current_world()
    if not world.distributed:
        return [work()]
    try:
        outcome = _Outcome(value=work())
    except Sg2Error as error:
        outcome = _Outcome(error=str(error))
    except Exception as error:  # out of memory, a broken file read by another library: one line for all
        last = traceback.extract_tb(error.__traceback__)[-1]
        outcome = _Outcome(error=f"{type(error).__name__}: {error} (at {last.filename}:{last.lineno})")
    try:
        outcomes: list[_Outcome] = core_dist.gather_objects(outcome, world)
    except RuntimeError as error:  # a process died (killed, lost): the collective breaks on the others
        message = f"another process of the {world.size} left the job ({error}); see torchrun's report"
        raise JobError(message) from error
    failed = [(rank, o.error) for rank, o in enumerate(outcomes) if o.error is not None]
    if failed:
        rank, message = failed[0]
        raise JobError(f"process {rank} of {world.size} failed: {message}")
    return [o.value for o in outcomes]


def broadcast(value: T, world: World | None = None) -> T:
    """Rank 0's ``value`` on every rank."""
    world = world or current_world()
    result: T = core_dist.broadcast_object(value, world)
    return result


def gather_rows(work: Callable[[], ItemRows], world: World | None = None) -> ItemRows:
    """Every rank's :class:`ItemRows` from ``work``, merged in item order (the same on every rank)."""
    world = world or current_world()
    if not world.distributed:
        return work()
    merged = ItemRows()
    for state in collect(lambda: work().state(), world):
        merged = merged.merge(ItemRows.from_state(state))
    return merged


def gather_moments(work: Callable[[], FeatureMoments | None], world: World | None = None) -> FeatureMoments:
    """Every rank's float64 :class:`FeatureMoments` from ``work`` (None: a rank without items), summed in
    rank order (re-centred on the first rank's shift; equal to the one-process sums up to summation order)."""
    world = world or current_world()
    states = collect(lambda: _moment_state(work()), world)
    device = world.device
    total: FeatureMoments | None = None
    for state in states:
        if state is None:  # a rank with no items
            continue
        part = FeatureMoments.from_state(state, device)
        total = part if total is None else total.merge(part)
    if total is None:
        raise Sg2evalError("no process had any items to measure")
    return total


def _moment_state(moments: FeatureMoments | None) -> dict[str, Any] | None:
    return None if moments is None or moments.num == 0 else moments.state()
