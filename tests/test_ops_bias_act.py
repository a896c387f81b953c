"""bias_act against direct formulas (docs/facts.md, "Ops"), its gradients, and the ref/cuda registry."""

from __future__ import annotations

import math
from collections.abc import Callable
from types import SimpleNamespace
from typing import cast

import numpy as np
import pytest
import torch

from sg2model.core.errors import Sg2Error
from sg2model.ops import registry
from sg2model.ops.bias_act import ACTIVATIONS, bias_act

SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


# name -> (formula in numpy with alpha, default gain from docs/facts.md, "Ops")
DIRECT: dict[str, tuple[Callable[[np.ndarray, float], np.ndarray], float]] = {
    "linear": (lambda v, a: v, 1.0),
    "relu": (lambda v, a: np.maximum(v, 0.0), math.sqrt(2)),
    "lrelu": (lambda v, a: np.where(v > 0, v, a * v), math.sqrt(2)),
    "tanh": (lambda v, a: np.tanh(v), 1.0),
    "sigmoid": (lambda v, a: _sigmoid(v), 1.0),
    "elu": (lambda v, a: np.where(v > 0, v, np.expm1(v)), 1.0),
    "selu": (lambda v, a: SELU_SCALE * np.where(v > 0, v, SELU_ALPHA * np.expm1(v)), 1.0),
    "softplus": (lambda v, a: np.log1p(np.exp(v)), 1.0),
    "swish": (lambda v, a: v * _sigmoid(v), math.sqrt(2)),
}


def test_every_activation_is_covered() -> None:
    assert set(ACTIVATIONS) == set(DIRECT)
    assert ACTIVATIONS["lrelu"].def_alpha == 0.2


@pytest.mark.parametrize("act", sorted(DIRECT))
def test_default_gain_and_bias_along_dim(act: str) -> None:
    formula, default_gain = DIRECT[act]
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(3, 4, 5, generator=gen, dtype=torch.float64) * 3
    for dim in (0, 1, 2):
        b = torch.randn(x.shape[dim], generator=gen, dtype=torch.float64)
        shape = [-1 if i == dim else 1 for i in range(3)]
        want = formula((x + b.reshape(shape)).numpy(), ACTIVATIONS[act].def_alpha) * default_gain
        np.testing.assert_allclose(bias_act(x, b, dim=dim, act=act).numpy(), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        bias_act(x, act=act).numpy(), formula(x.numpy(), 0.2) * default_gain, rtol=1e-12
    )


@pytest.mark.parametrize("act", sorted(DIRECT))
def test_explicit_alpha_gain_and_clamp(act: str) -> None:
    formula, _ = DIRECT[act]
    x = torch.linspace(-4, 4, 41, dtype=torch.float64).reshape(1, 41)
    b = torch.tensor([0.3], dtype=torch.float64)
    y = bias_act(x, b, dim=0, act=act, alpha=0.1, gain=1.7, clamp=1.5)
    want = np.clip(formula(x.numpy() + 0.3, 0.1) * 1.7, -1.5, 1.5)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-12, atol=1e-12)
    assert y.abs().max() <= 1.5
    assert bias_act(x, act=act, clamp=0.0).abs().max() == 0.0


def _away_from_kinks(act: str, clamp: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and bias in float64 whose pre-activations avoid 0 and whose outputs avoid +-clamp
    (where relu, lrelu and the clamp are not differentiable), with some outputs clamped."""
    x = torch.linspace(-2.9, 2.9, 12, dtype=torch.float64).reshape(2, 3, 2).clone()
    b = torch.tensor([0.013, -0.021, 0.034], dtype=torch.float64)
    pre = x + b.reshape(1, 3, 1)
    y = bias_act(x, b, act=act)
    assert pre.abs().min() > 1e-3 and (y.abs() - clamp).abs().min() > 1e-3
    assert (y.abs() > clamp).any()
    return x.requires_grad_(True), b.requires_grad_(True)


@pytest.mark.parametrize("act", sorted(DIRECT))
def test_gradients_of_first_and_second_order_with_clamp(act: str) -> None:
    x, b = _away_from_kinks(act, clamp=0.9)

    def fn(xx: torch.Tensor, bb: torch.Tensor) -> torch.Tensor:
        return bias_act(xx, bb, act=act, clamp=0.9)

    assert torch.autograd.gradcheck(fn, (x, b))
    assert torch.autograd.gradgradcheck(fn, (x, b))


def test_third_derivative_of_tanh() -> None:
    x = torch.linspace(-2, 2, 9, dtype=torch.float64, requires_grad=True)
    y = bias_act(x, act="tanh").sum()
    for _ in range(3):
        (g,) = torch.autograd.grad(y, x, create_graph=True)
        y = g.sum()
    t = torch.tanh(x.detach())
    torch.testing.assert_close(g.detach(), (1 - t**2) * (6 * t**2 - 2))


def test_bad_arguments_raise_one_line_errors() -> None:
    x = torch.randn(2, 3)
    with pytest.raises(Sg2Error, match="unknown activation"):
        bias_act(x, act="gelu")
    with pytest.raises(Sg2Error):
        bias_act(x, torch.zeros(2), dim=1)
    with pytest.raises(Sg2Error):
        bias_act(x, torch.zeros(3), dim=2)
    with pytest.raises(Sg2Error):
        bias_act(x, clamp=-1.0)
    with pytest.raises(Sg2Error):
        bias_act(x, impl="fast")


# --- registry: which implementation runs -----------------------------------------------------------


@pytest.fixture
def empty_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """No kernel registered, and the ``cuda_ops`` package counted as already imported (it would register its
    kernels the first time an op sees a CUDA tensor), whatever ran before."""
    monkeypatch.setattr(registry, "_cuda_kernels", {})
    monkeypatch.setattr(registry, "_kernels_package_tried", True)


def _fake_kernel(*args: object, **kwargs: object) -> torch.Tensor:
    raise AssertionError("not to be called")


@pytest.mark.usefixtures("empty_registry")
def test_resolve_rules() -> None:
    cpu = torch.zeros(1)
    on_cuda = cast(torch.Tensor, SimpleNamespace(is_cuda=True))  # stands in for a CUDA tensor
    assert registry.resolve("bias_act", "auto", cpu) == "ref"
    assert registry.resolve("bias_act", "auto", on_cuda) == "ref"  # nothing registered
    with pytest.raises(Sg2Error, match="no CUDA kernel"):
        registry.resolve("bias_act", "cuda", on_cuda)
    registry.register_cuda("bias_act", _fake_kernel)
    assert registry.resolve("bias_act", "auto", on_cuda) == "cuda"
    assert registry.resolve("bias_act", "ref", on_cuda) == "ref"
    assert registry.resolve("bias_act", "auto", cpu) == "ref"
    assert registry.resolve("upfirdn2d", "auto", on_cuda) == "ref"  # per op
    with pytest.raises(Sg2Error, match="not on a CUDA device"):
        registry.resolve("bias_act", "cuda", cpu)
    with pytest.raises(Sg2Error):
        registry.register_cuda("conv2d", _fake_kernel)


@pytest.mark.usefixtures("empty_registry")
def test_status_names_each_op_and_the_reason() -> None:
    before = registry.status()
    assert set(before) == {"bias_act", "upfirdn2d"}
    assert all(v.startswith("ref: no CUDA kernel") for v in before.values())
    registry.register_cuda("bias_act", _fake_kernel)
    after = registry.status()
    want = "cuda:" if torch.cuda.is_available() else "ref: CUDA kernel registered but no CUDA device"
    assert after["bias_act"].startswith(want)
    assert after["upfirdn2d"] == before["upfirdn2d"]


@pytest.mark.usefixtures("empty_registry")
def test_bias_act_passes_its_signature_to_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple] = []

    def kernel(x: torch.Tensor, b: torch.Tensor | None, **kwargs: object) -> torch.Tensor:
        calls.append((b, kwargs))
        return x

    registry.register_cuda("bias_act", kernel)
    x, b = torch.randn(2, 3), torch.randn(3)
    bias_act(x, b, act="lrelu")  # CPU tensor: the reference
    assert calls == []
    monkeypatch.setattr(registry, "resolve", lambda op, impl, t: "cuda")
    assert bias_act(x, b, act="lrelu", clamp=256.0) is x
    assert calls == [(b, {"dim": 1, "act": "lrelu", "alpha": None, "gain": None, "clamp": 256.0})]
