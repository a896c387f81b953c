"""Developer sessions (``nox -s NAME``). They reuse the project's ``.venv`` (created by ``python3 dev.py``)
instead of building fresh environments, so they start in seconds.

    nox -s tests        the test suite (pytest; cuda-marked tests are deselected without a GPU)
    nox -s lint         ruff on the tree, mypy on every package, the layer contract (scripts/check_layers.py)
    nox -s cuda_build   compile the fused CUDA ops with nvcc (skipped when nvcc is absent)
    nox -s bench        the peer comparisons (benchmarks/PEER_BENCHES; ``nox -s bench -- --quick``: minutes)
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nox

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dev import LINT_STEPS  # noqa: E402

ROOT = Path(__file__).resolve().parent
VENV_BIN = ROOT / ".venv" / ("Scripts" if os.name == "nt" else "bin")
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable

nox.options.sessions = ["tests", "lint"]


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    session.run(PYTHON, "-m", "pytest", *session.posargs, external=True)


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    for step in LINT_STEPS:  # the same steps as ``python3 dev.py test`` runs before the tests
        session.run(PYTHON, *step, external=True)


@nox.session(python=False)
def cuda_build(session: nox.Session) -> None:
    """Compile cuda_ops with nvcc against the installed torch (docs/cuda_ops.md); the build is cached, so a
    second run only loads it. Without a GPU the target defaults to TORCH_CUDA_ARCH_LIST='9.0+PTX'."""
    if shutil.which("nvcc") is None and not Path("/usr/local/cuda/bin/nvcc").exists():
        session.skip("nvcc not found; install the CUDA toolkit or set CUDA_HOME")
    env = {}
    if "TORCH_CUDA_ARCH_LIST" not in os.environ and shutil.which("nvidia-smi") is None:
        env["TORCH_CUDA_ARCH_LIST"] = "9.0+PTX"  # no GPU to ask: Hopper code plus PTX for newer GPUs
    cli = "from sg2eval.cli.main import cli; cli()"
    session.run(PYTHON, "-c", cli, "ops", "build", *session.posargs, env=env, external=True)


NVIDIA_ENV = "NVIDIA_STYLEGAN2_ADA_PYTORCH"  # a stylegan2-ada-pytorch checkout, never part of the project
PEER_BENCHES = ("bench_features.py", "bench_metrics.py", "bench_ppl.py", "bench_projector.py")


@nox.session(python=False)
def bench(session: nox.Session) -> None:
    """sg2eval against its peers on one machine, one script after the other (docs/performance.md); the
    other benchmarks/bench_*.py (GPU kernels, training, separability) are run by hand."""
    env = {"PYTHONPATH": str(ROOT)}
    nvidia = os.environ.get(NVIDIA_ENV)  # bench_projector.py's optional NVIDIA contender, passed on as given
    if nvidia is not None:
        env[NVIDIA_ENV] = nvidia
    for script in PEER_BENCHES:
        path = str(ROOT / "benchmarks" / script)
        session.run(PYTHON, path, *session.posargs, env=env, external=True)
