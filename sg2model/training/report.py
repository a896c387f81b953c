"""What a run shows and leaves behind: the JSON-lines log, the live display and PNG sample grids.

``log.jsonl`` gets one JSON object per line: ``{"event": "tick", "kimg", "step", "sec_per_kimg", losses...}``
every tick, ``{"event": "metric", "kimg", "metric", "values", ...}`` per snapshot metric, and
``{"event": "snapshot", ...}`` per checkpoint. A run that resumes in its own folder first drops the events
after the checkpoint it resumes from (:func:`rewind_log`), so a tick logged before a kill and run again after
the resume appears once. On a terminal the live display (rich) shows the recent ticks and the latest metric
values; elsewhere (``sg2eval train > log``) each tick and metric is one plain line on standard output,
``train: 12 / 100 kimg, 40 s, ETA 5 min, G_loss 1.2, D_loss 0.8`` and ``train: fid50k at 12 kimg: fid 35.2``
(sg2model/core/progress_lines.py). ``progress=False`` shows neither. Sample grids are written with
:func:`sg2model.core.images.save_image_grid`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from sg2model.core.files import atomic_open
from sg2model.core.progress_lines import progress_line

LOG_NAME = "log.jsonl"
DISPLAY_COLUMNS = ("kimg", "sec_per_kimg", "G_loss", "D_loss", "R1_penalty", "PL_penalty", "pl_mean")


class RunLog:
    """Appends events to ``log.jsonl`` and keeps the live display up to date (rank 0 only)."""

    def __init__(self, run_dir: Path, display: bool, total_kimg: float, start_kimg: float = 0.0) -> None:
        self.path = run_dir / LOG_NAME
        self.ticks: list[dict[str, Any]] = []
        self.metrics: dict[str, float] = {}
        self.total_kimg, self.start_kimg, self.start = total_kimg, start_kimg, time.monotonic()
        console = Console()
        self.live = (
            Live(self._table(), console=console, auto_refresh=False)
            if display and console.is_terminal
            else None
        )
        self.plain = display and self.live is None
        if self.live is not None:
            self.live.start()

    def write(self, event: dict[str, Any]) -> None:
        with open(self.path, "a") as handle:
            handle.write(json.dumps(event, default=float) + "\n")
        if event["event"] == "tick":
            self.ticks = (self.ticks + [event])[-12:]
        elif event["event"] == "metric":
            self.metrics.update({f"{event['metric']}:{k}": v for k, v in event["values"].items()})
        if self.live is not None:
            self.live.update(self._table(), refresh=True)
        elif self.plain and event["event"] in ("tick", "metric"):
            print(self._line(event), flush=True)

    def _line(self, event: dict[str, Any]) -> str:
        """The plain line of a tick or metric event."""
        kimg = float(event["kimg"])
        if event["event"] == "metric":
            values = ", ".join(f"{k} {_cell(v)}" for k, v in event["values"].items())
            return f"train: {event['metric']} at {_cell(kimg)} kimg: {values}"
        losses = ", ".join(f"{k} {_cell(event[k])}" for k in DISPLAY_COLUMNS[2:5] if event.get(k) is not None)
        elapsed = time.monotonic() - self.start
        return progress_line("train", kimg, self.total_kimg, elapsed, "kimg", losses, start=self.start_kimg)

    def _table(self) -> Table:
        table = Table(title="training", caption=", ".join(f"{k} = {v:.4g}" for k, v in self.metrics.items()))
        for column in DISPLAY_COLUMNS:
            table.add_column(column, justify="right")
        for tick in self.ticks:
            table.add_row(*(_cell(tick.get(column)) for column in DISPLAY_COLUMNS))
        return table

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()


def rewind_log(run_dir: Path, kimg: float) -> int:
    """Keep only the events of ``log.jsonl`` up to ``kimg`` (a partial last line of a killed run goes too);
    returns how many lines were dropped."""
    path = run_dir / LOG_NAME
    if not path.is_file():
        return 0
    lines = path.read_text().splitlines()
    kept = [line for line in lines if _kimg(line) <= kimg]
    if len(kept) < len(lines):
        with atomic_open(path) as handle:
            handle.writelines(line + "\n" for line in kept)
    return len(lines) - len(kept)


def _kimg(line: str) -> float:
    """An event line's ``kimg``; infinite for a line that is not a whole event."""
    try:
        event = json.loads(line)
        return float(event["kimg"])
    except (ValueError, KeyError, TypeError):
        return float("inf")


def _cell(value: Any) -> str:
    return "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
