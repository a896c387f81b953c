"""Plain progress lines for logs and pipes, shared by training and evaluation.

Where no terminal shows a live display (``sg2eval train > log``, CI, a job scheduler's log file), long work
writes one line now and then instead, e.g. ``train: 12.3 / 100 kimg, 40 s, ETA 5 min``. The estimate assumes
the rate so far goes on. ``$SG2EVAL_PROGRESS_INTERVAL`` sets the least number of seconds between two lines of
one job (default :data:`DEFAULT_INTERVAL_S`; ``0``: a line at every step, which tests use).
"""

from __future__ import annotations

import os

INTERVAL_ENV = "SG2EVAL_PROGRESS_INTERVAL"
DEFAULT_INTERVAL_S = 30.0


def interval_seconds() -> float:
    """Least seconds between two plain lines of one job: ``$SG2EVAL_PROGRESS_INTERVAL``, else 30."""
    raw = os.environ.get(INTERVAL_ENV, "").strip()
    try:
        return max(float(raw), 0.0) if raw else DEFAULT_INTERVAL_S
    except ValueError:
        return DEFAULT_INTERVAL_S


def duration(seconds: float) -> str:
    """``7 s``, ``40 s``, ``5 min``, ``2 h 05 min``: rounded to what a person reads at a glance."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    hours, rest = divmod(int(round(seconds / 60)), 60)
    return f"{hours} h {rest:02d} min"


def _amount(value: float) -> str:
    """``2048``, ``12.3``, ``0.008``: whole numbers as they are, others to a sensible precision."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3g}"


def progress_line(
    label: str,
    done: float,
    total: float,
    elapsed_s: float,
    unit: str = "",
    status: str = "",
    start: float = 0,
) -> str:
    """``label: done / total unit, elapsed, ETA remaining[, status]``; the estimate is the rate so far (from
    ``start``, where a resumed job began) applied to what is left (``ETA ?`` before the first step, ``done``
    at the end)."""
    units = f" {unit}" if unit else ""
    if done >= total:
        eta = "done"
    elif done > start:
        eta = f"ETA {duration(elapsed_s / (done - start) * (total - done))}"
    else:
        eta = "ETA ?"
    tail = f", {status}" if status else ""
    return f"{label}: {_amount(done)} / {_amount(total)}{units}, {duration(elapsed_s)}, {eta}{tail}"
