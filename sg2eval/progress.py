"""Progress of long work: rich bars on a terminal, plain periodic lines anywhere else.

Every long job (feature extraction, PPL pairs, separability, projection steps, report cells, demo stages)
opens a :func:`progress_bar`. When standard error is a terminal it is a rich bar on standard error
(description, bar, count, elapsed, remaining, status). Otherwise (a pipe, a log file, CI, ``CliRunner``) the
job writes plain lines to standard error instead, ``fid real: 2048 / 50000 images, 40 s, ETA 15 min``, at
most one every ``$SG2EVAL_PROGRESS_INTERVAL`` seconds (default 30; ``0``: every step) and a last one at the
end if it wrote any (sg2model/core/progress_lines.py). Standard output keeps only the results.

A job opened while another one is shown (the PPL pairs of a report cell, the features of a demo stage) is
shown too, as one more bar of the same display (or its own plain lines) whatever its own switch says: the
outermost job's switch decides, so ``report``'s bar over cells gets an inner bar with an honest estimate for
a 7-minute PPL cell. Only rank 0 of a distributed run shows anything.

The CLI shows progress unless ``--no-progress`` is given. The Python API shows none unless asked: every
metric function takes ``progress=True`` (``sg2eval.fid(real, fake, progress=True)``, ``sg2eval.ppl(...,
progress=True)``, ``sg2eval.separability(...)``, ``run_report(..., progress=True)``).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import TextIO, TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from sg2model.core.progress_lines import interval_seconds, progress_line

T = TypeVar("T")


class Bar:
    """What a job reports to: ``advance(steps, status)``. This base shows nothing (progress off)."""

    def advance(self, steps: float = 1, status: str | None = None) -> None:
        """``steps`` more done; ``status`` (when given) replaces the text after the bar."""


class _RichBar(Bar):
    def __init__(self, progress: Progress, task: TaskID) -> None:
        self.progress, self.task = progress, task

    def advance(self, steps: float = 1, status: str | None = None) -> None:
        if status is None:
            self.progress.update(self.task, advance=steps)
        else:
            self.progress.update(self.task, advance=steps, status=status)


class _PlainBar(Bar):
    """Plain lines: one when ``interval`` seconds have passed since the last, and one at the end if any."""

    def __init__(self, description: str, total: float, unit: str, stream: TextIO, interval: float) -> None:
        self.description, self.total, self.unit = description, total, unit
        self.stream, self.interval = stream, interval
        self.start = self.last = time.monotonic()
        self.done = 0.0
        self.status = ""
        self.written_at: float | None = None  # ``done`` when the last line was written

    def advance(self, steps: float = 1, status: str | None = None) -> None:
        self.done += steps
        if status is not None:
            self.status = status
        if time.monotonic() - self.last >= self.interval:
            self.write()

    def write(self) -> None:
        now = time.monotonic()
        elapsed = now - self.start
        line = progress_line(self.description, self.done, self.total, elapsed, self.unit, self.status)
        self.stream.write(line + "\n")
        self.stream.flush()
        self.last, self.written_at = now, self.done

    def finish(self) -> None:
        if self.written_at is not None and self.written_at != self.done:
            self.write()


class _Display:
    """One live display shared by every job opened inside the outermost one."""

    def __init__(self) -> None:
        self.depth = 0
        self.rich: Progress | None = None
        if sys.stderr.isatty():
            self.rich = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[status]}"),
                console=Console(stderr=True),
            )

    @contextlib.contextmanager
    def job(self, total: float, description: str, unit: str) -> Iterator[Bar]:
        self.depth += 1
        try:
            if self.rich is None:
                bar = _PlainBar(description, total, unit, sys.stderr, interval_seconds())
                yield bar
                bar.finish()
                return
            task = self.rich.add_task(description, total=total, status="")
            try:
                yield _RichBar(self.rich, task)
            finally:
                if self.depth > 1:  # inner jobs leave when done; the outermost bar stays on screen
                    self.rich.remove_task(task)
        finally:
            self.depth -= 1


_DISPLAY: ContextVar[_Display | None] = ContextVar("sg2eval_progress_display", default=None)


@contextlib.contextmanager
def progress_bar(total: float, description: str, enabled: bool = True, unit: str = "") -> Iterator[Bar]:
    """A :class:`Bar` over ``total`` steps of ``unit``: a rich bar on a terminal, plain lines elsewhere,
    nothing when ``enabled`` is false (unless an outer job is shown) or off rank 0."""
    from sg2eval.distributed import is_main

    display = _DISPLAY.get()
    if display is not None:
        with display.job(total, description, unit) as bar:
            yield bar
        return
    if not enabled or not is_main():
        yield Bar()
        return
    display = _Display()
    token = _DISPLAY.set(display)
    try:
        with display.rich or contextlib.nullcontext(), display.job(total, description, unit) as bar:
            yield bar
    finally:
        _DISPLAY.reset(token)


def track(items: Iterable[T], total: int, description: str, enabled: bool = True) -> Iterator[T]:
    """Iterate over ``items`` reporting ``total`` steps when ``enabled``."""
    with progress_bar(total, description, enabled) as bar:
        for item in items:
            yield item
            bar.advance()


@contextlib.contextmanager
def job_progress(
    total: int, description: str, enabled: bool = True, unit: str = ""
) -> Iterator[Callable[[int], None]]:
    """A job of ``total`` items (of ``unit``) when ``enabled``; yields ``advance(n)``, capped at ``total``."""
    with progress_bar(total, description, enabled, unit) as bar:
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            step = min(n, total - done)
            done += step
            bar.advance(step)

        yield advance
