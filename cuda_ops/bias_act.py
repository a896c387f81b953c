"""CUDA bias_act behind :func:`sg2model.ops.bias_act.bias_act` (same signature minus ``impl``).

``y = clamp(act(x + b) * gain, -clamp, clamp)`` in one pass (docs/facts.md, "Ops"). Gradients use the kernel
too: the first derivative is ``dy * gain * act'(r)`` where ``r`` is the input ``x + b`` (swish) or the
unscaled output ``y / gain`` (all others), and the second derivative differentiates that product again
(R1 and path length regularization need both orders). Third and higher orders are not provided.
"""

from __future__ import annotations

from typing import Any

import torch

from cuda_ops import build
from sg2model.core.errors import Sg2Error

#: Activation name -> kernel code (same order as ``enum Act`` in csrc/bias_act.cu).
ACT_CODES: dict[str, int] = {
    name: code
    for code, name in enumerate(
        ("linear", "relu", "lrelu", "tanh", "sigmoid", "elu", "selu", "softplus", "swish")
    )
}
#: Activations whose derivative the kernel writes in terms of the input x + b (the rest use the output).
X_BASED: frozenset[str] = frozenset({"swish"})

# (act, alpha, gain, clamp (-1 = none), dim)
Config = tuple[str, float, float, float, int]


def _empty(like: torch.Tensor) -> torch.Tensor:
    return torch.empty([0], device=like.device, dtype=like.dtype)


def _same_layout(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``t`` with the strides of ``like`` (the kernel walks all operands in one memory order)."""
    if t.stride() == like.stride():
        return t
    return torch.empty_like(like).copy_(t)


def _kernel(
    mode: int,
    g: torch.Tensor,
    b: torch.Tensor | None,
    ref: torch.Tensor | None,
    dy: torch.Tensor | None,
    cfg: Config,
) -> torch.Tensor:
    """Mode 0: forward from ``g = x``; 1: first derivative for ``g = dy``; 2: second for ``g = ddx``."""
    ext = build.load()
    if ext is None:
        raise Sg2Error("the CUDA bias_act kernel is not available; use impl='ref'")
    act, alpha, gain, clamp, dim = cfg
    layout = ref if ref is not None else g
    g = _same_layout(g, layout)
    bias = _empty(g) if b is None else b.contiguous()
    return ext.bias_act(
        g,
        bias,
        _empty(g) if ref is None else ref,
        _empty(g) if dy is None else _same_layout(dy, layout),
        ACT_CODES[act],
        mode,
        alpha,
        gain,
        clamp,
        dim,
    )


def _reduce_to_bias(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sum over every axis but ``dim``: the gradient of a bias broadcast along ``dim``."""
    return t.sum([i for i in range(t.ndim) if i != dim])


class _BiasAct(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, b: torch.Tensor | None, cfg: Config) -> torch.Tensor:
        y = _kernel(0, x, b, None, None, cfg)
        x_based = cfg[0] in X_BASED
        ctx.cfg = cfg
        ctx.save_for_backward(x if x_based else None, b if x_based else None, None if x_based else y)
        return y

    @staticmethod
    def backward(ctx: Any, dy: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        x, b, y = ctx.saved_tensors
        dx = _BiasActGrad.apply(dy, x, b, y, ctx.cfg)
        db = _reduce_to_bias(dx, ctx.cfg[4]) if ctx.needs_input_grad[1] else None
        return dx, db, None


class _BiasActGrad(torch.autograd.Function):
    """``dx = dy * gain * act'(r)``, differentiable once more in ``dy`` and in the saved reference."""

    @staticmethod
    def forward(
        ctx: Any,
        dy: torch.Tensor,
        x: torch.Tensor | None,
        b: torch.Tensor | None,
        y: torch.Tensor | None,
        cfg: Config,
    ) -> torch.Tensor:
        ctx.cfg = cfg
        ctx.save_for_backward(dy, x, b, y)
        return _kernel(1, dy, b, x if y is None else y, None, cfg)

    @staticmethod
    def backward(ctx: Any, ddx: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        dy, x, b, y = ctx.saved_tensors
        cfg = ctx.cfg
        d_dy = _BiasActGrad.apply(ddx, x, b, y, cfg) if ctx.needs_input_grad[0] else None
        if cfg[0] in X_BASED:
            d_x = _kernel(2, ddx, b, x, dy, cfg)
            d_b = _reduce_to_bias(d_x, cfg[4]) if b is not None and ctx.needs_input_grad[2] else None
            return d_dy, d_x, d_b, None, None
        d_y = _kernel(2, ddx, None, y, dy, cfg) if ctx.needs_input_grad[3] else None
        return d_dy, None, None, d_y, None


def bias_act_cuda(
    x: torch.Tensor,  # any shape, on a CUDA device; NCHW or channels-last (others are made contiguous)
    b: torch.Tensor | None = None,  # [x.shape[dim]] or None
    dim: int = 1,
    act: str = "linear",
    alpha: float | None = None,
    gain: float | None = None,
    clamp: float | None = None,
) -> torch.Tensor:  # same shape, dtype and layout as x
    """The CUDA kernel registered for ``bias_act``; the reference runs when the extension cannot be built."""
    from sg2model.ops.bias_act import ACTIVATIONS
    from sg2model.ops.bias_act import bias_act as reference

    if build.extension() is None or not x.is_cuda:
        return reference(x, b, dim=dim, act=act, alpha=alpha, gain=gain, clamp=clamp, impl="ref")
    spec = ACTIVATIONS[act]
    cfg: Config = (
        act,
        float(spec.def_alpha if alpha is None else alpha),
        float(spec.def_gain if gain is None else gain),
        -1.0 if clamp is None else float(clamp),
        dim,
    )
    if not (x.is_contiguous() or (x.ndim == 4 and x.is_contiguous(memory_format=torch.channels_last))):
        x = x.contiguous()
    bias = None if b is None else b.to(x.dtype)
    return _BiasAct.apply(x, bias, cfg)
