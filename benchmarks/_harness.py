"""Shared machinery of the peer benchmarks: interleaved repeated timing, isolated child processes for peak
memory, and one table format.

Ratio convention (every table): ``ratio = peer seconds / our seconds`` on the same inputs, both medians of
the same interleaved rounds; ``> 1`` means sg2eval is faster. For rates (images/s, pairs/s) that is
``our rate / peer rate``. The machine may be shared with other jobs, so contenders alternate inside every
round (load hits them alike) and only medians and ratios are reported.

A script that measures in child processes calls :func:`child_entry` first thing in ``main``: a child is the
same script started with ``--child NAME --params JSON``; it runs contender ``NAME`` once and prints one JSON
line with its wall seconds and peak resident memory (VmHWM, which counts the imports too: the memory a user
of that package pays).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

Params = dict[str, Any]
Contender = Callable[[Params], Callable[[], object]]  # params -> the timed call (setup runs before)
OURS = "sg2eval"


@dataclass(frozen=True)
class Measurement:
    """Medians over the rounds of one contender: wall seconds and (children only) peak RSS in MiB."""

    seconds: float
    peak_rss_mib: float | None = None
    value: object = None  # what the last call returned (a metric value, to show the contenders agree)


def common_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes: the whole bench in minutes")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds; medians are kept")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    return parser


def machine_line() -> str:
    import torch

    return (
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()} {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, {torch.get_num_threads()} torch threads, "
        f"load average {os.getloadavg()[0]:.1f} (shared machine: read the ratios, not the seconds)"
    )


def peak_rss_mib() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def child_entry(args: argparse.Namespace, contenders: Mapping[str, Contender]) -> None:
    """In a child (``--child NAME``): set up, time one call of contender NAME, print the JSON, exit."""
    if args.child is None:
        return
    call = contenders[args.child](json.loads(args.params))
    start = time.perf_counter()
    value = call()
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak_rss_mib(), "value": _jsonable(value)}))
    sys.exit(0)


def _jsonable(value: object) -> object:
    try:
        json.dumps(value)
    except TypeError:
        return None
    return value


def _median(measurements: list[Measurement]) -> Measurement:
    rss = [m.peak_rss_mib for m in measurements if m.peak_rss_mib is not None]
    return Measurement(
        statistics.median(m.seconds for m in measurements),
        statistics.median(rss) if rss else None,
        measurements[-1].value,
    )


def in_children(script: str, names: list[str], params: Params, repeats: int) -> dict[str, Measurement]:
    """Each contender once per round in a fresh ``python script --child NAME``, rounds interleaved."""
    runs: dict[str, list[Measurement]] = {name: [] for name in names}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    for _ in range(repeats):
        for name in names:
            argv = [sys.executable, script, "--child", name, "--params", json.dumps(params)]
            done = subprocess.run(argv, check=True, capture_output=True, text=True, env=env)
            line = done.stdout.strip().splitlines()[-1]
            runs[name].append(Measurement(**json.loads(line)))
    return {name: _median(found) for name, found in runs.items()}


def in_process(
    calls: Mapping[str, Callable[[], object]], repeats: int, warmup: bool = True
) -> dict[str, Measurement]:
    """Each call once per round in this process, rounds interleaved (after one untimed warm-up round)."""
    runs: dict[str, list[Measurement]] = {name: [] for name in calls}
    if warmup:
        for call in calls.values():
            call()
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            value = call()
            runs[name].append(Measurement(time.perf_counter() - start, None, value))
    return {name: _median(found) for name, found in runs.items()}


def print_table(title: str, measured: Mapping[str, Measurement], items: float = 0, unit: str = "") -> None:
    """One row per contender: median seconds, rate (when ``items``), peak RSS, and peer s / our s."""
    ours = measured[OURS].seconds
    print(f"\n{title}")
    header = f"{'contender':<22}{'median s':>10}"
    header += f"{unit + '/s':>12}" if items else ""
    header += f"{'peak RSS MiB':>14}{'peer s / our s':>16}  value"
    print(header)
    for name, m in measured.items():
        line = f"{name:<22}{m.seconds:>10.3f}"
        line += f"{items / m.seconds:>12.3f}" if items else ""
        line += f"{m.peak_rss_mib:>14.0f}" if m.peak_rss_mib is not None else f"{'-':>14}"
        ratio = "-" if name == OURS else f"{m.seconds / ours:.2f}"
        value = f"{m.value:.8g}" if isinstance(m.value, float) else ("-" if m.value is None else m.value)
        print(f"{line}{ratio:>16}  {value}")
