"""Fused bias, activation, gain and clamp (docs/facts.md, "Ops"; the layers' nonlinearity of StyleGAN2).

``y = clamp(act(x + b) * gain, -clamp, clamp)`` with ``b`` broadcast along ``dim``. The reference uses
plain autograd, so gradients of every order work (R1 and path length regularization need them).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from sg2model.core.errors import Sg2Error
from sg2model.ops import registry


@dataclass(frozen=True)
class ActivationSpec:
    """One activation function and its defaults."""

    func: Callable[[torch.Tensor, float], torch.Tensor]  # (x, alpha) -> act(x)
    def_alpha: float  # shape parameter used when alpha is None (leaky slope of lrelu)
    def_gain: float  # gain used when gain is None (sqrt(2) keeps the 2nd moment of ReLU-like functions)
    grad_ref: Literal["", "x", "y"]  # what the first derivative is computed from: nothing, input or output
    has_2nd_grad: bool  # whether the second derivative is non-zero somewhere


_SQRT2 = math.sqrt(2.0)

#: Activation name -> spec, in the order of the official kernel's indices (1 = linear ... 9 = swish).
ACTIVATIONS: dict[str, ActivationSpec] = {
    "linear": ActivationSpec(lambda x, a: x, 0.0, 1.0, "", False),
    "relu": ActivationSpec(lambda x, a: F.relu(x), 0.0, _SQRT2, "y", False),
    "lrelu": ActivationSpec(lambda x, a: F.leaky_relu(x, a), 0.2, _SQRT2, "y", False),
    "tanh": ActivationSpec(lambda x, a: torch.tanh(x), 0.0, 1.0, "y", True),
    "sigmoid": ActivationSpec(lambda x, a: torch.sigmoid(x), 0.0, 1.0, "y", True),
    "elu": ActivationSpec(lambda x, a: F.elu(x), 0.0, 1.0, "y", True),
    "selu": ActivationSpec(lambda x, a: F.selu(x), 0.0, 1.0, "y", True),
    "softplus": ActivationSpec(lambda x, a: F.softplus(x), 0.0, 1.0, "y", True),
    "swish": ActivationSpec(lambda x, a: torch.sigmoid(x) * x, 0.0, _SQRT2, "x", True),
}


def bias_act(
    x: torch.Tensor,  # any shape
    b: torch.Tensor | None = None,  # [x.shape[dim]] or None
    dim: int = 1,  # axis of x that b runs along
    act: str = "linear",  # a key of ACTIVATIONS
    alpha: float | None = None,  # shape parameter, None = the activation's default
    gain: float | None = None,  # output scale, None = the activation's default
    clamp: float | None = None,  # clamp the output to [-clamp, clamp], None = no clamping
    impl: str = "auto",  # 'auto' | 'ref' | 'cuda', see sg2model.ops.registry
) -> torch.Tensor:  # same shape and dtype as x
    """Add bias, apply the activation, multiply by the gain, clamp (in this order)."""
    if not isinstance(x, torch.Tensor):
        raise Sg2Error("bias_act needs a tensor input")
    spec = ACTIVATIONS.get(act)
    if spec is None:
        raise Sg2Error(f"unknown activation {act!r}; use one of {', '.join(ACTIVATIONS)}")
    if clamp is not None and clamp < 0:
        raise Sg2Error(f"clamp={clamp}; give a non-negative bound or None")
    if b is not None and (not 0 <= dim < x.ndim or b.ndim != 1 or b.shape[0] != x.shape[dim]):
        raise Sg2Error(
            f"bias of shape {list(b.shape)} does not match dim {dim} of x {list(x.shape)}; "
            "give a 1-D bias with one value per element along dim"
        )
    if registry.resolve("bias_act", impl, x) == "cuda":
        kernel = registry.cuda_kernel("bias_act")
        return kernel(x, b, dim=dim, act=act, alpha=alpha, gain=gain, clamp=clamp)

    if b is not None:
        x = x + b.reshape([-1 if i == dim else 1 for i in range(x.ndim)])
    x = spec.func(x, float(spec.def_alpha if alpha is None else alpha))
    gain = float(spec.def_gain if gain is None else gain)
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x
