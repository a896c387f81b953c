"""Rich progress bars shared by every long-running command (quiet when output is not a terminal)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")


def make_progress(transient: bool = False) -> Progress:
    """A progress display with description, bar, count, elapsed and remaining time (shown by rank 0 alone
    in a distributed run)."""
    from sg2eval.distributed import is_main

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        transient=transient,
        disable=not is_main(),
    )


def track(items: Iterable[T], total: int, description: str, enabled: bool = True) -> Iterator[T]:
    """Iterate over ``items`` showing a progress bar of ``total`` steps when ``enabled``."""
    if not enabled:
        yield from items
        return
    with make_progress() as progress:
        task = progress.add_task(description, total=total, status="")
        for item in items:
            yield item
            progress.advance(task)


@contextlib.contextmanager
def job_progress(total: int, description: str, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A progress bar of ``total`` items when ``enabled``; yields ``advance(n)`` (capped at ``total``)."""
    if not enabled:
        yield lambda n: None
        return
    with make_progress() as progress:
        task = progress.add_task(description, total=total, status="")
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            step = min(n, total - done)
            done += step
            progress.advance(task, step)

        yield advance
