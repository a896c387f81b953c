"""The one place where a device name becomes a :class:`torch.device`.

``'auto'`` (or None) means the current CUDA device when one is available, else the CPU; under torchrun a
process's ``LOCAL_RANK`` picks its GPU (``cuda:<LOCAL_RANK>``, also for a plain ``'cuda'``). Anything else
is a torch device string (``'cpu'``, ``'cuda'``, ``'cuda:1'``, ``'mps'``), checked here so that a missing GPU
is one clear line rather than a failure deep inside a metric.
"""

from __future__ import annotations

import os

import torch

from sg2model.core.errors import Sg2Error

AUTO = "auto"


def resolve_device(spec: str | torch.device | None = AUTO) -> torch.device:
    """``'auto'``/None -> ``cuda[:LOCAL_RANK]`` when CUDA is available else ``cpu``; a name -> that device,
    refused in one line when it is unknown or not present on this machine."""
    if isinstance(spec, torch.device):
        return spec
    if spec is None or spec == AUTO:
        if not torch.cuda.is_available():
            return torch.device("cpu")
        local_rank = os.environ.get("LOCAL_RANK")
        return torch.device(f"cuda:{local_rank}" if local_rank is not None else "cuda")
    try:
        device = torch.device(spec)
    except (RuntimeError, TypeError) as error:
        raise Sg2Error(f"unknown device {spec!r}; use auto, cpu, cuda or cuda:N") from error
    if device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ:
        device = torch.device(f"cuda:{os.environ['LOCAL_RANK']}")  # one GPU per torchrun process
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise Sg2Error(f"device {spec!r} was asked for but no CUDA GPU is available; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise Sg2Error(
                f"device {spec!r} does not exist: this machine has {torch.cuda.device_count()} GPU(s)"
            )
    return device


def same_device(a: torch.device, b: torch.device) -> bool:
    """Whether two devices are one: ``cuda`` (no index) is the current CUDA device, e.g. ``cuda:0``."""
    if a.type != b.type:
        return False
    if a.type != "cuda" or a.index == b.index:
        return True
    current = torch.cuda.current_device()
    return (a.index if a.index is not None else current) == (b.index if b.index is not None else current)
