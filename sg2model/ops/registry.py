"""Choice between the reference (plain PyTorch) and a CUDA kernel for each custom op.

docs/facts.md, "Ops": never compile at import; kernels are optional and the reference is the definition.
The ``cuda_ops`` package, imported the first time an op sees a CUDA tensor, calls :func:`register_cuda`
with kernels that are built on first use; if that build fails, every op runs the reference. A kernel must
have the same signature as the public op minus ``impl``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Literal

import torch

from sg2model.core.errors import Sg2Error

#: Ops that accept ``impl`` and may have a CUDA kernel.
OPS: tuple[str, ...] = ("bias_act", "upfirdn2d")
#: Values accepted for the ``impl`` argument of every op.
IMPLS: tuple[str, ...] = ("auto", "ref", "cuda")

_cuda_kernels: dict[str, Callable[..., torch.Tensor]] = {}
_kernels_package_tried = False


def _load_kernels_package() -> None:
    """Import ``cuda_ops`` once, the first time an op sees a CUDA tensor: it registers its lazily built
    kernels (importing compiles nothing). Without the package, every op keeps the reference."""
    global _kernels_package_tried
    if _kernels_package_tried:
        return
    _kernels_package_tried = True
    try:
        importlib.import_module("cuda_ops")
    except ImportError:
        pass


def _check_op(op_name: str) -> None:
    if op_name not in OPS:
        raise Sg2Error(f"unknown op {op_name!r}; use one of {', '.join(OPS)}")


def register_cuda(op_name: str, fn: Callable[..., Any]) -> None:
    """Make ``fn`` the CUDA kernel of ``op_name`` (replacing any earlier one)."""
    _check_op(op_name)
    if not callable(fn):
        raise Sg2Error(f"the CUDA kernel for {op_name!r} must be callable; pass the op function itself")
    _cuda_kernels[op_name] = fn


def cuda_kernel(op_name: str) -> Callable[..., torch.Tensor]:
    """The registered CUDA kernel of ``op_name`` (call only after :func:`resolve` returned ``'cuda'``)."""
    _check_op(op_name)
    return _cuda_kernels[op_name]


def resolve(op_name: str, impl: str, tensor: torch.Tensor) -> Literal["ref", "cuda"]:
    """Which implementation runs ``op_name`` on ``tensor``.

    ``'ref'`` always gives the reference. ``'auto'`` gives ``'cuda'`` only when a kernel is registered and
    ``tensor.is_cuda``. ``'cuda'`` demands the kernel and raises :class:`Sg2Error` when it cannot run.
    """
    _check_op(op_name)
    if impl not in IMPLS:
        raise Sg2Error(f"impl={impl!r} for {op_name}; use one of {', '.join(IMPLS)}")
    if impl == "ref":
        return "ref"
    if tensor.is_cuda:
        _load_kernels_package()
    usable = op_name in _cuda_kernels and bool(tensor.is_cuda)
    if impl == "cuda" and not usable:
        registered = op_name in _cuda_kernels
        why = "its input is not on a CUDA device" if registered else "no CUDA kernel is registered"
        raise Sg2Error(f"impl='cuda' for {op_name} but {why}; use impl='auto' or impl='ref'")
    return "cuda" if usable else "ref"


def status() -> dict[str, str]:
    """For each op, the implementation ``impl='auto'`` chooses on a CUDA tensor and why."""
    result: dict[str, str] = {}
    for op_name in OPS:
        if op_name not in _cuda_kernels:
            result[op_name] = "ref: no CUDA kernel registered (cuda_ops not loaded or its build failed)"
        elif not torch.cuda.is_available():
            result[op_name] = "ref: CUDA kernel registered but no CUDA device is available"
        else:
            result[op_name] = "cuda: kernel registered; used for CUDA tensors, the reference for others"
    return result
