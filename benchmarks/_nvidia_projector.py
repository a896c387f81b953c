"""NVIDIA's stylegan2-ada-pytorch ``projector.project()`` as a benchmark contender, run from a checkout the
user names at run time (``--nvidia-repo DIR`` / ``NVIDIA_STYLEGAN2_ADA_PYTORCH``); none of its code is in this
project. Its modules are imported with :mod:`importlib` from ``DIR`` on ``sys.path``.

The same seeded weights reach both sides: their ``training.networks.Generator`` is built with config-F shapes,
pickled as ``dict(G_ema=G)`` by their persistence wrapper and read back with :func:`sg2model.io.load_network`.
Their ``project()`` fetches VGG16 through ``dnnlib.util.open_url``; that is pointed at our local TorchScript.
Per-step times come from its ``verbose`` log lines (``print`` shadowed in their module), so the W statistics
from 10000 mapping samples computed before the loop (Appendix D) are not counted.
"""

from __future__ import annotations

import importlib
import pickle
import statistics
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sg2model import Generator
from sg2model.io import load_network

# Imported by their dnnlib/util.py and projector.py at module level but not on the path project() takes.
STUBBED = ("requests", "imageio")


def import_nvidia(repo: Path) -> tuple[Any, Any, Any]:
    """Their ``training.networks``, ``projector`` and ``dnnlib`` modules, imported from ``repo``."""
    for name in STUBBED:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            sys.modules[name] = types.ModuleType(name)
    sys.path.insert(0, str(repo))
    names = ("training.networks", "projector", "dnnlib")
    networks, projector, dnnlib = (importlib.import_module(name) for name in names)
    return networks, projector, dnnlib


def shared_generators(
    networks: Any, resolution: int, channel_base: int, channel_max: int, seed: int = 0
) -> tuple[nn.Module, Generator]:
    """(theirs, ours): their config-F-shaped Generator with seeded weights and ours read from its pickle."""
    torch.manual_seed(seed)
    theirs = networks.Generator(
        z_dim=512,
        c_dim=0,
        w_dim=512,
        img_resolution=resolution,
        img_channels=3,
        mapping_kwargs={"num_layers": 8},
        synthesis_kwargs={"channel_base": channel_base, "channel_max": channel_max},
    ).eval()
    path = Path(tempfile.mkdtemp()) / "nvidia-G.pkl"
    with open(path, "wb") as handle:
        pickle.dump({"G_ema": theirs}, handle)
    ours = load_network(path).G_ema
    assert isinstance(ours, Generator)
    return theirs, ours.eval()


def max_abs_diff(theirs: nn.Module, ours: nn.Module, seed: int = 0) -> float:
    """Largest pixel difference of the two generators' images for one seeded z (constant noise)."""
    z = torch.from_numpy(np.random.RandomState(seed).randn(1, 512)).float()
    with torch.no_grad():
        a = theirs(z, None, noise_mode="const")
        b = ours(z, None, noise_mode="const")
    return float((a - b).abs().max())


def nvidia_step_seconds(
    projector: Any, dnnlib: Any, G: nn.Module, weights: str
) -> Callable[[np.ndarray, int], float]:
    """``time(target, num_steps)``: median seconds of their steps after the first, one ``project()`` call."""
    dnnlib.util.open_url = lambda url, *args, **kwargs: open(weights, "rb")  # noqa: SIM115 - project() closes it

    def time_steps(target: np.ndarray, num_steps: int) -> float:
        stamps: list[float] = []

        def stamp(*args: object) -> None:
            if str(args[0]).startswith("step"):
                stamps.append(time.perf_counter())

        projector.print = stamp  # their logprint() looks print up in the module's globals
        projector.project(
            G, torch.from_numpy(target), num_steps=num_steps, verbose=True, device=torch.device("cpu")
        )
        return statistics.median(np.diff(stamps).tolist())

    return time_steps
