"""Data-parallel training over ``torch.distributed``: gradient and statistics sync.

Each process computes its share of the global minibatch; after a phase's rounds, the gradients of the one
network that phase trains are averaged over processes with a single all-reduce of one flat buffer (the
scheme of NVIDIA's later StyleGAN code), so no synchronization happens in the rounds themselves and none
for the network that is not being trained. Works with NCCL on GPUs and gloo on CPUs. Joining the process
group, object collectives and local spawning are :mod:`sg2model.core.distributed`'s.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.distributed as dist

from sg2model.core.distributed import World


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
