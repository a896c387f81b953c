"""The built wheel works on its own: installed outside the checkout, it finds its package data.

How it runs offline, in 45-60 s on the shared 2-core machine (most of it importing torch twice, and every
module once), without downloading anything:

1. copy the source tree to a temporary folder (so no ``build/`` or ``*.egg-info`` lands in the checkout) and
   build the wheel there with ``pip wheel --no-deps --no-build-isolation --no-index``; the build backend
   (setuptools, wheel) comes from the test environment, which is why the ``test`` extra lists them;
2. create a bare virtual environment (``venv --without-pip``, a fraction of a second) and install the wheel
   into it with the test environment's pip, ``pip --python VENV/bin/python install --no-deps --no-index``
   (pip >= 22.3), which writes the ``sg2eval`` script with the new environment's interpreter;
3. make the dependencies importable without reinstalling torch: a ``.pth`` file in the new environment
   lists the test environment's site-packages folders. Python adds those folders to ``sys.path`` after the
   new environment's own, and does not process the ``.pth`` files inside them, so an editable install of
   this checkout there stays inactive;
4. from an empty folder, with ``PYTHONPATH`` and ``SG2EVAL_PAPER_VALUES`` removed from the environment:
   import every module with the test-only packages blocked (the run-time dependencies suffice), check that
   every package comes from the new environment, then run ``sg2eval report table1`` on the official
   manifest with no network files. The rows are reported missing, but the published values of
   Table 1 must be in the output, read from the installed package.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("sg2eval", "sg2model", "cuda_ops", "sg2datasets", "sg2reports")
TEST_ONLY = ("torch_fidelity", "pytorch_fid", "torchmetrics", "prdc", "pytest", "hypothesis")
#: Run in the new environment: import every module of the packages with the test-only packages blocked, and
#: print where each package and the paper values were found.
PROBE = f"""
import importlib, json, pkgutil, sys
for name in {TEST_ONLY!r}:
    sys.modules[name] = None  # importing it raises ImportError
from sg2reports.paper_values import find_paper_values
found = {{"paper_values": str(find_paper_values())}}
for top in {PACKAGES!r}:
    package = importlib.import_module(top)
    found[top] = package.__file__
    for module in pkgutil.walk_packages(package.__path__, top + "."):
        importlib.import_module(module.name)
print(json.dumps(found))
"""
_NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", ".nox", ".*_cache", "__pycache__", "*.egg-info", "build", "dist"
)


def _run(args: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{args[:3]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _install_wheel(work: Path) -> tuple[Path, Path]:
    """Build the wheel and install it into a new environment; (its interpreter, its site-packages)."""
    source = work / "src"
    shutil.copytree(REPO, source, ignore=_NOT_SOURCES)
    pip = [sys.executable, "-m", "pip"]
    offline = ["--no-deps", "--no-index"]
    _run([*pip, "wheel", "-q", *offline, "--no-build-isolation", "-w", work / "wheel", source], cwd=work)
    (wheel,) = (work / "wheel").glob("sg2eval-*.whl")
    venv.EnvBuilder(with_pip=False).create(work / "venv")
    python = work / "venv" / "bin" / "python"
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = Path(_run([python, "-c", where], work).strip())
    dependencies = [*site.getsitepackages(), *([site.getusersitepackages()] if site.ENABLE_USER_SITE else [])]
    (purelib / "_sg2eval_test_dependencies.pth").write_text("\n".join(dependencies) + "\n")
    _run([*pip, "--python", python, "install", "-q", *offline, wheel], cwd=work)
    return python, purelib


@pytest.mark.slow
def test_installed_wheel_finds_the_paper_values_without_the_checkout(tmp_path: Path) -> None:
    assert REPO not in tmp_path.parents
    assert not any((folder / "shared").exists() for folder in (tmp_path, *tmp_path.parents))
    python, purelib = _install_wheel(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SG2EVAL_PAPER_VALUES")}
    run = tmp_path / "run"
    run.mkdir()

    found = json.loads(_run([python, "-c", PROBE], run, env))
    assert {name: Path(path).is_relative_to(purelib) for name, path in found.items()} == dict.fromkeys(
        [*PACKAGES, "paper_values"], True
    ), found
    packaged = purelib / "sg2reports" / "paper_values"
    assert Path(found["paper_values"]) == packaged and (packaged / "table1_main_results.csv").is_file()

    shutil.copy(REPO / "reports" / "manifests" / "official" / "table1.toml", run)
    sg2eval = python.with_name("sg2eval")
    args = ["report", "table1", "--manifest", "table1.toml", "--rows", "F/ffhq", "--seeds", "1"]
    _run([sg2eval, *args, "--out", "out", "--networks-dir", "nets"], run, env)
    row = pd.read_csv(run / "out" / "table1.csv").iloc[0]
    assert row["status"] == "network missing"
    published = [row[f"{c}_paper"] for c in ("fid", "path_length", "precision", "recall")]
    assert published == [2.84, 145.0, 0.689, 0.492]
    assert json.loads((run / "out" / "table1.json").read_text())["paper_values"] == str(packaged)


def test_torchvision_is_needed_only_by_the_features_that_use_it(tmp_path: Path) -> None:
    """With torchvision unimportable (missing, or built for another torch), every module imports and a
    metric on the built-in detector runs; vgg16-tv stops with one line saying what to install."""
    probe = f"""
import importlib, pkgutil, sys
import numpy as np
sys.modules["torchvision"] = None  # importing it raises ImportError
for top in {PACKAGES!r}:
    package = importlib.import_module(top)
    for module in pkgutil.walk_packages(package.__path__, top + "."):
        importlib.import_module(module.name)
import sg2eval
from sg2eval.errors import Sg2evalError
images = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
print(sg2eval.fid(images, images[::-1], detector="shapes-features", cache=False, device="cpu").value)
try:
    sg2eval.precision_recall(images, images, detector="vgg16-tv", weights={str(tmp_path / "tv.pth")!r})
except Sg2evalError as error:
    print(error)
"""
    torch_save = f"import torch; torch.save({{}}, {str(tmp_path / 'tv.pth')!r})"
    _run([sys.executable, "-c", torch_save], tmp_path)
    fid_value, error = _run([sys.executable, "-c", probe], REPO).strip().splitlines()[-2:]
    assert abs(float(fid_value)) < 1e-6
    assert error.startswith("vgg16-tv and lpips-vgg need torchvision, which failed to import"), error
    assert "install the torchvision built for torch" in error
