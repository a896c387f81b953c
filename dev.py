#!/usr/bin/env python3
"""One-command entry points for a fresh machine that has only python3.

    python3 dev.py demo [ARGS...]   set up .venv if needed, then run `sg2eval demo ARGS...`
    python3 dev.py test [ARGS...]   set up .venv if needed, then lint (ruff, mypy, the layer contract)
                                    and run the test suite (pytest ARGS...)

Set-up creates `.venv` beside this file and installs the project with its `test` extras (pytest and the
peer packages) and `dev` extras (ruff, mypy, nox: the lint steps); it is redone only when pyproject.toml
changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".sg2eval-install-stamp"


def _venv_bin(name: str) -> Path:
    return VENV / ("Scripts" if os.name == "nt" else "bin") / name


def ensure_environment() -> None:
    """Create the virtual environment and install the project when pyproject.toml changed."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    if not _venv_bin("python").exists():
        print(f"dev.py: creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("dev.py: installing sg2eval, test and dev extras (first run takes a few minutes)", flush=True)
    subprocess.run(
        [str(_venv_bin("python")), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[test,dev]"],
        check=True,
    )
    STAMP.write_text(wanted)


#: The lint steps of ``dev.py test`` (the same as ``nox -s lint``), run before the tests.
LINT_STEPS: tuple[tuple[str, ...], ...] = (
    ("-m", "ruff", "check", "."),
    ("-m", "mypy", "sg2eval", "sg2model", "cuda_ops", "datasets/sg2datasets", "reports/sg2reports"),
    ("scripts/check_layers.py",),
)


def lint() -> int:
    """Run every lint step; the first failing one's exit status (0 when all pass)."""
    for step in LINT_STEPS:
        print(f"dev.py: {' '.join(step)}", flush=True)
        status = subprocess.call([str(_venv_bin("python")), *step], cwd=ROOT)
        if status:
            return status
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ensure_environment()
    command, rest = argv[0], argv[1:]
    if command == "demo":
        return subprocess.call([str(_venv_bin("sg2eval")), "demo", *rest], cwd=ROOT)
    return lint() or subprocess.call([str(_venv_bin("python")), "-m", "pytest", *rest], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
