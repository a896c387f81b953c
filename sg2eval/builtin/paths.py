"""Where the built-in default's shipped files are, and their recorded SHA-256 hashes.

``sg2eval/builtin/assets/`` (package data) holds the two networks of one training run, the in-domain feature
network, the attribute classifier set, the training logs and ``TRAINING.md`` (the exact commands);
``MANIFEST.json`` lists every file with its SHA-256 (written by ``scripts/train_builtin.py collect``).
``$SG2EVAL_BUILTIN_ASSETS`` points to another folder of the same layout (tests, freshly trained assets).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sg2eval.errors import Sg2evalError

ASSETS = Path(__file__).resolve().parent / "assets"
MANIFEST = "MANIFEST.json"
FINAL_NETWORK = "shapes32-final.sg2"
EARLY_NETWORK = "shapes32-early.sg2"
FEATURES_FILE = "shapes-features.safetensors"
CLASSIFIERS_DIR = "shapes-classifiers"
DATASET = {"num": 10_000, "resolution": 32, "seed": 0}  # the built-in data the networks were trained on


def assets_folder() -> Path:
    """``$SG2EVAL_BUILTIN_ASSETS`` when set, else the installed ``assets`` folder."""
    override = os.environ.get("SG2EVAL_BUILTIN_ASSETS")
    return Path(override).expanduser().resolve() if override else ASSETS


def asset(name: str) -> Path:
    """The shipped file or folder ``name``; a clear error when the installation lacks it."""
    folder = assets_folder()
    path = folder / name
    if not path.exists():
        raise Sg2evalError(
            f"the built-in asset {name} is missing from {folder}; reinstall sg2eval or recreate the assets "
            "with scripts/train_builtin.py"
        )
    return path


def manifest() -> dict[str, dict[str, object]]:
    """``{relative file name: {"sha256": ..., "bytes": ..., ...}}`` from ``MANIFEST.json``."""
    files: dict[str, dict[str, object]] = json.loads(asset(MANIFEST).read_text())["files"]
    return files


def expected_sha256(name: str) -> str:
    """The recorded SHA-256 of the shipped file ``name``."""
    entry = manifest().get(name)
    if entry is None:
        raise Sg2evalError(f"{name} is not in the assets manifest; recreate it with scripts/train_builtin.py")
    return str(entry["sha256"])


def write_manifest(folder: Path, notes: dict[str, dict[str, object]] | None = None) -> dict[str, object]:
    """List every file under ``folder`` (recursively, except the manifest) with size and SHA-256, plus any
    ``notes[name]`` (e.g. a network's kimg), into ``folder/MANIFEST.json``."""
    from sg2model.core.files import sha256_file, write_json

    files: dict[str, dict[str, object]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        name = path.relative_to(folder).as_posix()
        extra = (notes or {}).get(name, {})
        files[name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size, **extra}
    payload: dict[str, object] = {"format": "sg2eval-builtin-assets-v1", "files": files}
    write_json(folder / MANIFEST, payload)
    return payload
