"""Data-parallel training over ``torch.distributed``: process setup, gradient and statistics sync.

Each process computes its share of the global minibatch; after a phase's rounds, the gradients of the one
network that phase trains are averaged over processes with a single all-reduce of one flat buffer (the
scheme of NVIDIA's later StyleGAN code), so no synchronization happens in the rounds themselves and none
for the network that is not being trained. Works with NCCL on GPUs and gloo on CPUs.

Processes come from ``torchrun`` (``WORLD_SIZE``/``RANK``/``LOCAL_RANK``/``MASTER_ADDR`` in the
environment, any number of nodes) or from :func:`spawn_local` (``--gpus N`` on one machine).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from sg2model.core.errors import Sg2Error


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


def pick_device(requested: str, local_rank: int) -> torch.device:
    """``auto``: ``cuda:<local rank>`` when CUDA is available, else the CPU; or exactly what was asked."""
    if requested == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    device = torch.device(requested)
    if device.type == "cuda" and device.index is None:
        device = torch.device(f"cuda:{local_rank}")
    return device


def world_from_env(requested_device: str) -> World:
    """Join the process group that ``torchrun`` (or :func:`spawn_local`) described in the environment;
    a single process when ``WORLD_SIZE`` is unset or 1."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    device = pick_device(requested_device, local_rank)
    if size > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend, rank=rank, world_size=size)
    return World(rank, size, device)


def average_gradients(params: Iterable[torch.nn.Parameter], world: World) -> None:
    """Average the gradients of ``params`` over processes in one all-reduce, and replace NaN/Inf by
    finite values as the official loop does (NaN -> 0, +-Inf -> +-1e5)."""
    with_grad = [p for p in params if p.grad is not None and p.numel() > 0]
    if not with_grad:
        return
    flat = torch.cat([p.grad.flatten() for p in with_grad])  # type: ignore[union-attr]
    if world.distributed:
        dist.all_reduce(flat)
        flat /= world.size
    torch.nan_to_num(flat, nan=0.0, posinf=1e5, neginf=-1e5, out=flat)
    for p, grad in zip(with_grad, flat.split([p.numel() for p in with_grad]), strict=True):
        p.grad = grad.reshape(p.shape)


def all_sum(tensor: torch.Tensor, world: World) -> torch.Tensor:
    """Sum of ``tensor`` over processes (a copy; the input itself when single-process)."""
    if not world.distributed:
        return tensor
    out = tensor.clone()
    dist.all_reduce(out)
    return out


def broadcast_module(module: torch.nn.Module, world: World) -> None:
    """Make every process hold rank 0's parameters and buffers."""
    if world.distributed:
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)


def gather_objects(obj: Any, world: World) -> list[Any]:
    """``obj`` of every process, by rank."""
    if not world.distributed:
        return [obj]
    out: list[Any] = [None] * world.size
    dist.all_gather_object(out, obj)
    return out


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
    device = pick_device(device_name, rank)
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
    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        raise Sg2Error("already inside a torchrun process group; do not pass --gpus as well")
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(_spawned, args=(size, os.path.join(tmp, "init"), fn, args), nprocs=size, join=True)
