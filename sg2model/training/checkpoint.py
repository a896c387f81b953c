"""Checkpoints: a network file in our format plus a training-state file, named by a pointer file.

A checkpoint at ``n`` images is

- ``network-snapshot-<tag>.sg2``: ``save_network(G, D, G_ema)`` (spectral-norm parametrizations folded);
- ``training-state-<tag>.pt``: optimizer states, image/step counters, ``pl_mean``, data order, the RNG
  states of every process (torch CPU/CUDA, numpy, Python) and, for spectral-norm runs, the raw state dicts;
  plain containers and tensors only, read back with ``torch.load(weights_only=True)`` (no code runs);
- ``checkpoint.json``: names the two files; written last.

Each file is written under a temporary name and renamed (``sg2model.core.files``), and the pointer moves only
after both files are complete, so a crash mid-write leaves the previous checkpoint usable. The previous
training-state file is deleted once the pointer has moved (network snapshots are all kept).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sg2model.core.errors import Sg2Error
from sg2model.core.files import atomic_path, write_json

POINTER = "checkpoint.json"
STATE_FORMAT = "sg2model-training-state"
STATE_VERSION = 1


def snapshot_tag(nimg: int) -> str:
    """``001200`` at 1 200 000 images (kimg, as the official names); ``000000k064`` below whole kimg."""
    kimg, rest = divmod(nimg, 1000)
    return f"{kimg:06d}" if rest == 0 else f"{kimg:06d}k{rest:03d}"


@dataclass(frozen=True)
class Checkpoint:
    """Where a checkpoint's files are."""

    network: Path
    state: Path
    nimg: int


def find_checkpoint(run_dir: str | Path) -> Checkpoint:
    """The latest complete checkpoint of ``run_dir`` (from its pointer file)."""
    pointer = Path(run_dir) / POINTER
    if not pointer.is_file():
        raise Sg2Error(f"{run_dir} has no {POINTER}; resume from a run directory of 'sg2eval train'")
    info = json.loads(pointer.read_text())
    checkpoint = Checkpoint(
        pointer.parent / info["network"], pointer.parent / info["state"], int(info["nimg"])
    )
    for path in (checkpoint.network, checkpoint.state):
        if not path.is_file():
            raise Sg2Error(
                f"{pointer} names {path.name}, which is missing; restore it or resume from a network"
            )
    return checkpoint


def write_state(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` of plain containers and tensors, atomically."""
    with atomic_path(path) as tmp:
        torch.save({"format": STATE_FORMAT, "version": STATE_VERSION, **state}, tmp)


def read_state(path: Path) -> dict[str, Any]:
    """A training-state file, loaded without running code (``weights_only=True``)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise Sg2Error(f"{path} is not an sg2model training-state file")
    if state.get("version") != STATE_VERSION:
        raise Sg2Error(f"{path} has training-state version {state.get('version')}; upgrade sg2model")
    return state


def commit_checkpoint(run_dir: Path, network: Path, state: Path, nimg: int) -> None:
    """Point ``checkpoint.json`` at the new files, then delete the previous training-state file."""
    pointer = run_dir / POINTER
    previous = json.loads(pointer.read_text())["state"] if pointer.is_file() else None
    write_json(pointer, {"network": network.name, "state": state.name, "nimg": nimg, "kimg": nimg / 1000})
    if previous is not None and previous != state.name:
        (run_dir / previous).unlink(missing_ok=True)


def capture_rng() -> dict[str, Any]:
    """RNG states of torch (CPU and every CUDA device), numpy's global generator and Python's ``random``."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "python": random.getstate(),
    }


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng` (CUDA states only when the device count matches)."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    np_state = state["numpy"]
    np.random.set_state(
        (
            np_state["name"],
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached"],
        )
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
