"""What a run shows and leaves behind: the JSON-lines log, the live display and PNG sample grids.

``log.jsonl`` gets one JSON object per line: ``{"event": "tick", "kimg", "step", "sec_per_kimg", losses...}``
every tick, ``{"event": "metric", "kimg", "metric", "values", ...}`` per snapshot metric, and
``{"event": "snapshot", ...}`` per checkpoint. A run that resumes in its own folder first drops the events
after the checkpoint it resumes from (:func:`rewind_log`), so a tick logged before a kill and run again after
the resume appears once. The live display (rich) shows the recent ticks and the latest
metric values; it is off when not on a terminal or when ``progress=False``. Sample grids are written with
:func:`sg2model.core.images.save_image_grid`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from sg2model.core.files import atomic_open

LOG_NAME = "log.jsonl"
DISPLAY_COLUMNS = ("kimg", "sec_per_kimg", "G_loss", "D_loss", "R1_penalty", "PL_penalty", "pl_mean")


class RunLog:
    """Appends events to ``log.jsonl`` and keeps the live display up to date (rank 0 only)."""

    def __init__(self, run_dir: Path, display: bool) -> None:
        self.path = run_dir / LOG_NAME
        self.ticks: list[dict[str, Any]] = []
        self.metrics: dict[str, float] = {}
        console = Console()
        self.live = (
            Live(self._table(), console=console, auto_refresh=False)
            if display and console.is_terminal
            else None
        )
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
