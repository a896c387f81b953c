"""Wall time of ``sg2eval demo`` on this machine, with and without the built-in reports, and where it goes.

Each mode runs the whole command in a fresh process (``--no-progress``), ``--rounds`` times interleaved;
the table prints the median wall time and the median seconds of each stage that ``report.json`` records
(``stage_seconds``). docs/demo.md quotes these figures.

    python benchmarks/bench_demo.py [--modes quick quick-reports full] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES: dict[str, tuple[str, ...]] = {
    "quick": ("--quick",),
    "quick-reports": ("--quick", "--reports"),
    "full": (),
    "full-no-reports": ("--no-reports",),
}


def run_mode(args: tuple[str, ...], folder: Path) -> tuple[float, dict[str, float]]:
    """One ``sg2eval demo`` run: its wall seconds and its stage seconds."""
    out = folder / "demo"
    command = [sys.executable, "-m", "sg2eval", "demo", *args, "--out", str(out), "--no-progress"]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    stages = json.loads((out / "report.json").read_text())["stage_seconds"]
    shutil.rmtree(out)
    return elapsed, stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", choices=sorted(MODES), default=["quick", "quick-reports"])
    parser.add_argument("--rounds", type=int, default=1)
    options = parser.parse_args()
    times: dict[str, list[float]] = {mode: [] for mode in options.modes}
    stages: dict[str, list[dict[str, float]]] = {mode: [] for mode in options.modes}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(options.rounds):
            for mode in options.modes:
                elapsed, stage_seconds = run_mode(MODES[mode], Path(tmp))
                times[mode].append(elapsed)
                stages[mode].append(stage_seconds)
    for mode in options.modes:
        print(f"demo {' '.join(MODES[mode]) or '(full)'}: {statistics.median(times[mode]):.0f} s wall "
              f"(median of {options.rounds})")
        for stage in stages[mode][0]:
            print(f"    {stage}: {statistics.median(s[stage] for s in stages[mode]):.1f} s")


if __name__ == "__main__":
    main()
