"""Build and load the CUDA extension of the fused ops, on demand and cached on disk.

docs/facts.md, "Ops": never compile at import; on first use (or ``sg2eval ops build``) compile once with
``torch.utils.cpp_extension.load``; when the build fails, warn once with the compiler's first error line and
let every op run the reference. The build folder is keyed by a hash of the sources, the torch version, its
CUDA version, the target architectures and the nvcc version, under ``$SG2EVAL_CACHE/cuda_ops`` (default
``~/.cache/sg2eval/cuda_ops``), so a changed source or toolchain never loads a stale binary.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import torch

from sg2model.core.errors import Sg2Error

CSRC = Path(__file__).resolve().parent / "csrc"
#: Translation units of the extension; the header is hashed too.
SOURCES: tuple[Path, ...] = (CSRC / "ops.cpp", CSRC / "bias_act.cu", CSRC / "upfirdn2d.cu")
HEADERS: tuple[Path, ...] = (CSRC / "ops.h",)
EXTENSION_NAME = "sg2eval_cuda_ops"
NVCC_FLAGS: tuple[str, ...] = ("-O3", "--use_fast_math", "-lineinfo")


@dataclass(frozen=True)
class Toolchain:
    """What a build would use; ``problem`` is empty when a build can be attempted."""

    cuda_home: Path | None
    nvcc_version: str
    arch_list: str
    problem: str


@dataclass(frozen=True)
class BuildState:
    """Outcome of this process's build attempt: ``state`` is 'not tried', 'built' or 'failed'."""

    state: str
    reason: str
    build_dir: Path | None = None


_module: ModuleType | None = None
_state = BuildState("not tried", "not built or loaded in this process yet")
_reference_only = False


def cache_root() -> Path:
    """Folder holding one build folder per build key."""
    base = os.environ.get("SG2EVAL_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "sg2eval") / "cuda_ops"


def _find_cuda_home() -> Path | None:
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(var):
            return Path(os.environ[var])
    if Path("/usr/local/cuda/bin/nvcc").exists():
        return Path("/usr/local/cuda")
    nvcc = shutil.which("nvcc")
    return Path(nvcc).resolve().parent.parent if nvcc else None


def _arch_list() -> str:
    """``TORCH_CUDA_ARCH_LIST`` if set, else the compute capabilities of the visible GPUs."""
    if os.environ.get("TORCH_CUDA_ARCH_LIST"):
        return os.environ["TORCH_CUDA_ARCH_LIST"]
    if not torch.cuda.is_available():
        return ""
    caps = {torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())}
    return ";".join(f"{major}.{minor}" for major, minor in sorted(caps))


def toolchain() -> Toolchain:
    """Locate nvcc and the target architectures without compiling anything."""
    cuda_home = _find_cuda_home()
    nvcc = cuda_home / "bin" / "nvcc" if cuda_home else None
    arch = _arch_list()
    if torch.version.cuda is None:
        return Toolchain(cuda_home, "", arch, f"torch {torch.__version__} is a CPU-only build")
    if nvcc is None or not nvcc.exists():
        return Toolchain(cuda_home, "", arch, "nvcc not found; install the CUDA toolkit or set CUDA_HOME")
    try:
        text = subprocess.run([str(nvcc), "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        return Toolchain(cuda_home, "", arch, f"{nvcc} --version failed: {error}")
    found = re.search(r"release [\d.]+, V[\d.]+", text)
    version = found.group(0) if found else text.strip().splitlines()[-1]
    if not arch:
        return Toolchain(cuda_home, version, arch, "no CUDA device and TORCH_CUDA_ARCH_LIST is unset")
    return Toolchain(cuda_home, version, arch, "")


def build_key(chain: Toolchain, sources: tuple[Path, ...] = SOURCES) -> str:
    """Hash of everything the binary depends on: sources, torch, CUDA, target architectures, nvcc."""
    digest = hashlib.sha256()
    for path in (*sources, *HEADERS):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for part in (
        torch.__version__,
        str(torch.version.cuda),
        chain.arch_list,
        chain.nvcc_version,
        *NVCC_FLAGS,
    ):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def build_dir(chain: Toolchain, sources: tuple[Path, ...] = SOURCES) -> Path:
    """Build folder for this toolchain and these sources."""
    return cache_root() / f"{EXTENSION_NAME}-{build_key(chain, sources)}"


def first_error_line(log: str) -> str:
    """The compiler's first error line in a build log (the whole first line when none is marked)."""
    for line in log.splitlines():
        if re.search(r"\berror\b", line, re.IGNORECASE) and not line.startswith("Error building extension"):
            return line.strip()
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"


def compile_extension(sources: tuple[Path, ...] = SOURCES, verbose: bool = False) -> ModuleType:
    """Compile (or reuse the cached build of) the extension and import it; raises :class:`Sg2Error`."""
    chain = toolchain()
    if chain.problem:
        raise Sg2Error(f"cannot build the CUDA ops: {chain.problem}")
    from torch.utils import cpp_extension

    assert chain.cuda_home is not None
    os.environ["TORCH_CUDA_ARCH_LIST"] = chain.arch_list
    cpp_extension.CUDA_HOME = str(chain.cuda_home)  # torch guesses it once at import, sometimes wrongly
    folder = build_dir(chain, sources)
    built = folder / f"{EXTENSION_NAME}.so"
    if built.exists():
        # The folder's key already covers sources and toolchain: import without asking ninja, whose
        # timestamp checks rebuild needlessly when a checkout arrives with other file times.
        try:
            return _import_library(built)
        except ImportError:
            pass  # e.g. a concurrent build is still writing it: cpp_extension below waits for its lock
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return cpp_extension.load(
            name=EXTENSION_NAME,
            sources=[str(path) for path in sources],
            extra_cflags=["-O3"],
            extra_cuda_cflags=list(NVCC_FLAGS),
            build_directory=str(folder),
            verbose=verbose,
        )
    except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
        raise Sg2Error(
            f"building the CUDA ops failed: {first_error_line(str(error))}; "
            "full log: sg2eval ops build --verbose"
        ) from error


def _import_library(path: Path) -> ModuleType:
    """Import a compiled extension module from its shared library."""
    spec = importlib.util.spec_from_file_location(EXTENSION_NAME, path)
    if spec is None or spec.loader is None:
        raise Sg2Error(f"cannot import the CUDA ops from {path}; delete the folder and rebuild")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load() -> ModuleType | None:
    """The compiled extension, building it on the first call; ``None`` (after one warning) when it fails."""
    global _module, _state
    if _module is not None or _state.state == "failed":
        return _module
    try:
        _module = compile_extension(SOURCES)
    except Sg2Error as error:
        _state = BuildState("failed", str(error))
        warnings.warn(f"sg2eval: {error}; using the reference ops instead", RuntimeWarning, stacklevel=3)
        return None
    _state = BuildState("built", "compiled or loaded from the cache", build_dir(toolchain()))
    return _module


def state() -> BuildState:
    """This process's build outcome, or whether a cached build for the current toolchain exists."""
    if _state.state != "not tried":
        return _state
    chain = toolchain()
    if chain.problem:
        return BuildState("not tried", f"cannot build: {chain.problem}")
    folder = build_dir(chain)
    if any(folder.glob(f"{EXTENSION_NAME}*.so")):
        return BuildState("not tried", f"a cached build exists in {folder}; loaded on first use", folder)
    return BuildState(
        "not tried", f"not built yet; compiled on first use or by 'sg2eval ops build' ({folder})"
    )


@contextmanager
def reference_only() -> Iterator[None]:
    """Inside this block the registered kernels run the reference ops (for CUDA-vs-reference comparisons)."""
    global _reference_only
    before, _reference_only = _reference_only, True
    try:
        yield
    finally:
        _reference_only = before


def extension() -> ModuleType | None:
    """The extension the ops use now: ``None`` inside :func:`reference_only` or after a failed build."""
    return None if _reference_only else load()
