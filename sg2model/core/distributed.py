"""Process groups over ``torch.distributed``, shared by training and evaluation.

Processes come from ``torchrun`` (``WORLD_SIZE``/``RANK``/``LOCAL_RANK``/``MASTER_ADDR`` in the environment,
any number of nodes, any rendezvous) or from :func:`spawn_local` (``--gpus N`` on one machine). Each process
uses its own device (:func:`sg2model.core.device.resolve_device`: ``cuda:<LOCAL_RANK>``, or the CPU); the
backend is NCCL on GPUs and gloo on CPUs. Object collectives (:func:`gather_objects`,
:func:`broadcast_object`) go through gloo's or NCCL's pickled-object path.
"""

from __future__ import annotations

import datetime
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from sg2model.core.device import resolve_device
from sg2model.core.errors import Sg2Error

#: How long a collective waits for the other processes before giving up (``$SG2_DIST_TIMEOUT_S``).
TIMEOUT_S = float(os.environ.get("SG2_DIST_TIMEOUT_S", "1800"))


@dataclass(frozen=True)
class World:
    """Where this process stands: ``rank`` of ``size`` processes, and its device."""

    rank: int
    size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def world_size_from_env() -> int:
    """``WORLD_SIZE`` (1 when unset): how many processes torchrun started."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def world_from_env(requested_device: str | torch.device | None = "auto") -> World:
    """Join the process group that ``torchrun`` (or :func:`spawn_local`) described in the environment (once
    per process); a single process when ``WORLD_SIZE`` is unset or 1."""
    size = world_size_from_env()
    rank = int(os.environ.get("RANK", "0"))
    device = resolve_device(requested_device)
    if size > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        backend = "nccl" if device.type == "cuda" else "gloo"
        timeout = datetime.timedelta(seconds=TIMEOUT_S)
        dist.init_process_group(backend=backend, rank=rank, world_size=size, timeout=timeout)
    return World(rank, size, device)


def gather_objects(obj: Any, world: World) -> list[Any]:
    """``obj`` of every process, by rank."""
    if not world.distributed:
        return [obj]
    out: list[Any] = [None] * world.size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, world: World, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every process."""
    if not world.distributed:
        return obj
    box = [obj if world.rank == src else None]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def shutdown(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def _spawned(rank: int, size: int, init_file: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    os.environ.update({"WORLD_SIZE": str(size), "RANK": str(rank), "LOCAL_RANK": str(rank)})
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    device_name = args[0].device if args and hasattr(args[0], "device") else "auto"
    device = resolve_device(device_name)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, init_method=f"file://{init_file}", rank=rank, world_size=size)
    try:
        fn(*args)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def spawn_local(size: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """Run ``fn(*args)`` in ``size`` new processes on this machine, joined in one process group."""
    if world_size_from_env() > 1:
        raise Sg2Error("already inside a torchrun process group; do not pass --gpus as well")
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(_spawned, args=(size, os.path.join(tmp, "init"), fn, args), nprocs=size, join=True)
