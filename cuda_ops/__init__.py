"""Fused CUDA kernels for bias_act and upfirdn2d (the StyleGAN2 paper's custom ops, docs/facts.md, "Ops").

Importing this package compiles nothing: it registers lazy kernels with :mod:`sg2model.ops.registry`, so
``impl='auto'`` picks them for CUDA tensors. The extension is built on the first call on a CUDA tensor (or
ahead of time by ``sg2eval ops build``) and cached on disk; if the build fails, one warning names the
compiler's first error and the reference ops run instead. :func:`status` says which implementation each op
uses and why.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from cuda_ops import build
from cuda_ops.bias_act import bias_act_cuda
from cuda_ops.upfirdn2d import upfirdn2d_cuda
from sg2model.ops import registry

KERNELS: dict[str, Callable[..., torch.Tensor]] = {"bias_act": bias_act_cuda, "upfirdn2d": upfirdn2d_cuda}


def install() -> None:
    """Register the (lazily built) kernels; idempotent."""
    for op_name, fn in KERNELS.items():
        registry.register_cuda(op_name, fn)


def status() -> dict[str, tuple[str, str]]:
    """Op name -> (implementation ``impl='auto'`` uses on a CUDA tensor, reason)."""
    state = build.state()
    if state.state == "failed":
        choice = ("ref", f"the CUDA build failed: {state.reason}")
    elif not torch.cuda.is_available():
        choice = (
            "ref",
            f"no CUDA device is available (CPU tensors always use the reference); {state.reason}",
        )
    elif state.state == "built":
        choice = ("cuda", f"extension loaded from {state.build_dir}")
    else:
        choice = ("cuda", f"kernel registered; {state.reason}")
    result = {}
    for op_name, fn in KERNELS.items():
        try:
            ours = registry.cuda_kernel(op_name) is fn
        except KeyError:
            ours = False
        result[op_name] = (
            choice if ours else ("ref", "the cuda_ops kernel is not registered; call cuda_ops.install()")
        )
    return result


install()
