"""Fused CUDA ops (cuda_ops): fallback logic everywhere, CUDA-vs-reference values and gradients on a GPU.

Tests marked ``cuda`` are deselected on machines without a CUDA device (tests/conftest.py). The others
check, on any machine, the dispatch and build-failure fallback and the autograd plumbing of upfirdn2d
(its backward geometry) with the reference standing in for the kernel.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import cuda_ops
from cuda_ops import build
from cuda_ops import upfirdn2d as cuda_upfirdn2d
from cuda_ops.bias_act import ACT_CODES, bias_act_cuda
from sg2model.ops import registry
from sg2model.ops.bias_act import ACTIVATIONS, bias_act
from sg2model.ops.upfirdn2d import setup_filter, upfirdn2d

# ----------------------------------------------------------------------------------- dispatch and fallback


def test_every_reference_activation_has_a_kernel_code() -> None:
    assert set(ACT_CODES) == set(ACTIVATIONS)


def test_auto_on_cpu_resolves_to_reference_and_status_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda_ops.install()
    assert registry.resolve("upfirdn2d", "auto", torch.zeros(1)) == "ref"
    assert registry.resolve("bias_act", "auto", torch.zeros(1)) == "ref"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for impl, reason in cuda_ops.status().values():
        assert impl == "ref" and "no CUDA device" in reason


def _broken_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the builder at a source that cannot compile, in a fresh cache, with a fresh build state."""
    source = tmp_path / "broken.cpp"
    source.write_text("#error forced failure of the sg2eval test\n")
    monkeypatch.setattr(build, "SOURCES", (source,))
    monkeypatch.setattr(build, "_module", None)
    monkeypatch.setattr(build, "_state", build.BuildState("not tried", "test"))
    monkeypatch.setenv("SG2EVAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_CUDA_ARCH_LIST", "9.0")


def test_first_cuda_tensor_loads_the_kernel_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """sg2model.ops imports cuda_ops (which registers lazy kernels and compiles nothing) on first CUDA use."""
    import sys

    monkeypatch.setattr(registry, "_cuda_kernels", {})
    monkeypatch.setattr(registry, "_kernels_package_tried", False)
    monkeypatch.delitem(sys.modules, "cuda_ops")
    registry._load_kernels_package()
    assert set(registry._cuda_kernels) == {"bias_act", "upfirdn2d"}


def test_failed_build_warns_once_and_falls_back_to_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _broken_build(tmp_path, monkeypatch)
    x = torch.randn(2, 3, 8, 8)
    f = setup_filter([1, 3, 3, 1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = cuda_upfirdn2d.upfirdn2d_cuda(x, f, up=2, padding=[2, 1, 2, 1], gain=4)
        second = bias_act_cuda(x, torch.randn(3), act="lrelu")
    messages = [str(w.message) for w in caught if "sg2eval" in str(w.message)]
    assert len(messages) == 1, messages
    chain = build.toolchain()
    expected = "forced failure of the sg2eval test" if not chain.problem else "cannot build the CUDA ops"
    assert expected in messages[0] and "reference" in messages[0]
    torch.testing.assert_close(first, upfirdn2d(x, f, up=2, padding=[2, 1, 2, 1], gain=4, impl="ref"))
    assert build.state().state == "failed"
    assert second.shape == x.shape
    assert all(impl == "ref" and "build failed" in why for impl, why in cuda_ops.status().values())


def test_first_error_line_finds_the_compiler_message() -> None:
    nvcc_log = (
        '[1/3] nvcc ... -c a.cu\n/src/a.cu(12): error: identifier "foo" is undefined\n1 error detected\n'
    )
    gcc_log = (
        "Error building extension 'x': [1/2] c++ ...\n/src/b.cpp:3:2: error: #error nope\nninja: stopped\n"
    )
    assert build.first_error_line(nvcc_log) == '/src/a.cu(12): error: identifier "foo" is undefined'
    assert build.first_error_line(gcc_log) == "/src/b.cpp:3:2: error: #error nope"
    assert build.first_error_line("linker exploded\nmore") == "linker exploded"


def test_build_key_follows_sources_and_toolchain(tmp_path: Path) -> None:
    source = tmp_path / "a.cu"
    source.write_text("// one\n")
    chain = build.Toolchain(Path("/cuda"), "release 13.0, V13.0.88", "9.0", "")
    key = build.build_key(chain, (source,))
    assert build.build_key(chain, (source,)) == key
    assert (
        build.build_key(build.Toolchain(Path("/cuda"), "release 13.0, V13.0.88", "8.0", ""), (source,)) != key
    )
    assert (
        build.build_key(build.Toolchain(Path("/cuda"), "release 12.8, V12.8.1", "9.0", ""), (source,)) != key
    )
    source.write_text("// two\n")
    assert build.build_key(chain, (source,)) != key


def test_reference_only_bypasses_the_extension() -> None:
    with build.reference_only():
        assert build.extension() is None
        with build.reference_only():
            assert build.extension() is None
        assert build.extension() is None


# ------------------------------------------------------------- upfirdn2d autograd with a reference kernel

geometries = st.tuples(
    st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
    st.integers(-2, 4), st.integers(-2, 4), st.integers(-2, 4), st.integers(-2, 4),
)  # fmt: skip


def _reference_kernel(x: torch.Tensor, taps: torch.Tensor, geometry: cuda_upfirdn2d.Geometry) -> torch.Tensor:
    upx, upy, downx, downy, px0, px1, py0, py1 = geometry
    # The reference with flip_filter=True correlates with taps, as the kernel does.
    return upfirdn2d(x, taps.to(x.dtype), up=[upx, upy], down=[downx, downy], padding=[px0, px1, py0, py1],
                     flip_filter=True, impl="ref")  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    geometry=geometries, fh=st.integers(1, 4), fw=st.integers(1, 4), h=st.integers(2, 6), w=st.integers(2, 6)
)
def test_upfirdn2d_backward_geometry_matches_autograd_of_reference(
    monkeypatch: pytest.MonkeyPatch, geometry: cuda_upfirdn2d.Geometry, fh: int, fw: int, h: int, w: int
) -> None:
    upx, upy, _, _, px0, px1, py0, py1 = geometry
    assume(w * upx + px0 + px1 >= fw and h * upy + py0 + py1 >= fh)
    monkeypatch.setattr(cuda_upfirdn2d, "_run_kernel", _reference_kernel)
    generator = torch.Generator().manual_seed(fh * 100 + fw * 10 + h)
    taps = torch.rand(fh, fw, generator=generator, dtype=torch.float64)
    x = torch.randn(1, 2, h, w, generator=generator, dtype=torch.float64, requires_grad=True)
    fn = cuda_upfirdn2d._Upfirdn2d.apply
    assert torch.autograd.gradcheck(lambda t: fn(t, taps, geometry), (x,))
    assert torch.autograd.gradgradcheck(lambda t: fn(t, taps, geometry), (x,))


def test_correlation_taps_of_separable_filter_equal_two_passes() -> None:
    f1 = setup_filter([1, 3, 3, 1], separable=True)
    f2 = setup_filter([1, 3, 3, 1])
    torch.testing.assert_close(
        cuda_upfirdn2d.correlation_taps(f1, False, 4.0), cuda_upfirdn2d.correlation_taps(f2, False, 4.0)
    )
    ramp = torch.arange(6.0).reshape(2, 3)
    torch.testing.assert_close(cuda_upfirdn2d.correlation_taps(ramp, False, 2.0), ramp.flip([0, 1]) * 2)
    torch.testing.assert_close(cuda_upfirdn2d.correlation_taps(ramp, True, 1.0), ramp)


# ----------------------------------------------------------------------------------- GPU: CUDA vs reference

cuda = pytest.mark.cuda
DTYPES = {"fp32": torch.float32, "fp16": torch.float16}


@pytest.fixture(autouse=True)
def _no_tf32(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The reference convolutions must run in full float32 (TF32 would round them to 10-bit mantissas);
    the official training turns TF32 off too (docs/facts.md, "Metrics / Common")."""
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    yield
    torch.set_float32_matmul_precision(previous)


def _tolerance(dtype: torch.dtype) -> dict[str, float]:
    return {"atol": 1e-4, "rtol": 1e-4} if dtype == torch.float32 else {"atol": 2e-2, "rtol": 2e-2}


def _layout(t: torch.Tensor, channels_last: bool) -> torch.Tensor:
    return (
        t.contiguous(memory_format=torch.channels_last) if channels_last and t.ndim == 4 else t.contiguous()
    )


def _first_and_second_order(
    fn: Callable[..., torch.Tensor], inputs: list[torch.Tensor], seed: int
) -> list[torch.Tensor]:
    """Output, first-order gradients for a random output gradient dy, and the gradients of
    ``<d(inputs), w>`` with respect to the inputs and to dy (double backward)."""
    generator = torch.Generator(device="cuda").manual_seed(seed)
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    y = fn(*leaves)
    dy = torch.randn(y.shape, generator=generator, device="cuda").to(y.dtype).requires_grad_(True)
    grads = torch.autograd.grad(y, leaves, dy, create_graph=True)
    weights = [torch.randn(g.shape, generator=generator, device="cuda").to(g.dtype) for g in grads]
    total = torch.stack([(g * w).sum() for g, w in zip(grads, weights, strict=True)]).sum()
    second = torch.autograd.grad(total, [*leaves, dy], allow_unused=True, materialize_grads=True)
    return [y, *grads, *second]


def _assert_all_close(cuda_out: list[torch.Tensor], ref_out: list[torch.Tensor], dtype: torch.dtype) -> None:
    for index, (got, want) in enumerate(zip(cuda_out, ref_out, strict=True)):
        scale = max(float(want.detach().abs().max()), 1.0)
        tol = _tolerance(dtype)
        try:
            torch.testing.assert_close(got.float(), want.float(), atol=tol["atol"] * scale, rtol=tol["rtol"])
        except AssertionError as error:
            raise AssertionError(f"result #{index} (output, grads, double-backward grads): {error}") from None


@cuda
@settings(max_examples=120, deadline=None)
@given(
    geometry=geometries,
    fh=st.integers(1, 6),
    fw=st.integers(1, 6),
    separable=st.booleans(),
    size=st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 40), st.integers(1, 40)),
    flip=st.booleans(),
    gain=st.sampled_from([1.0, 4.0, 0.5]),
    dtype=st.sampled_from(list(DTYPES)),
    channels_last=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_upfirdn2d_cuda_matches_reference(
    geometry: cuda_upfirdn2d.Geometry,
    fh: int,
    fw: int,
    separable: bool,
    size: tuple[int, int, int, int],
    flip: bool,
    gain: float,
    dtype: str,
    channels_last: bool,
    seed: int,
) -> None:
    upx, upy, downx, downy, px0, px1, py0, py1 = geometry
    n, c, h, w = size
    fh = fw if separable else fh
    assume(w * upx + px0 + px1 >= fw and h * upy + py0 + py1 >= fh)
    torch.manual_seed(seed)
    f = torch.rand(fw) + 0.1 if separable else torch.rand(fh, fw) + 0.1
    f = (f / f.sum()).cuda()
    x = _layout(torch.randn(n, c, h, w, device="cuda", dtype=DTYPES[dtype]), channels_last)
    kwargs: dict[str, Any] = {
        "up": [upx, upy],
        "down": [downx, downy],
        "padding": [px0, px1, py0, py1],
        "flip_filter": flip,
        "gain": gain,
    }
    got = _first_and_second_order(lambda t: upfirdn2d(t, f, impl="cuda", **kwargs), [x], seed)
    want = _first_and_second_order(lambda t: upfirdn2d(t.float(), f, impl="ref", **kwargs), [x], seed)
    if channels_last and min(got[0].shape[2:]) > 1:
        assert got[0].is_contiguous(memory_format=torch.channels_last)
    _assert_all_close(got, want, DTYPES[dtype])


@cuda
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize(
    "case",
    [
        {"up": 2, "padding": [2, 1, 2, 1], "gain": 4.0},  # upsample2d
        {"down": 2, "padding": [1, 1, 1, 1]},  # downsample2d
        {"padding": [2, 1, 2, 1]},  # filter2d
        {"padding": [1, 1, 1, 1], "gain": 4.0},  # after a stride-2 transposed conv
        {"up": 2, "down": 2, "padding": [1, 2, 1, 2]},  # square fast path not taken: generic
        {"up": [2, 1], "padding": [2, 1, 0, 0]},  # anisotropic: generic
    ],
)
def test_upfirdn2d_cuda_stylegan_cases_multi_tile(
    case: dict[str, Any], dtype: str, channels_last: bool
) -> None:
    f = setup_filter([1, 3, 3, 1], device="cuda")
    x = _layout(torch.randn(2, 5, 67, 45, device="cuda", dtype=DTYPES[dtype]), channels_last)
    got = _first_and_second_order(lambda t: upfirdn2d(t, f, impl="cuda", **case), [x], 1)
    want = _first_and_second_order(lambda t: upfirdn2d(t.float(), f, impl="ref", **case), [x], 1)
    _assert_all_close(got, want, DTYPES[dtype])


@cuda
@settings(max_examples=150, deadline=None)
@given(
    act=st.sampled_from(list(ACTIVATIONS)),
    with_bias=st.booleans(),
    clamp=st.sampled_from([None, 0.5, 3.0]),
    gain=st.sampled_from([None, 0.7]),
    alpha=st.sampled_from([None, 0.3]),
    shape_kind=st.sampled_from(["nchw", "channels_last", "nc", "dim2"]),
    dtype=st.sampled_from(list(DTYPES)),
    seed=st.integers(0, 2**16),
)
def test_bias_act_cuda_matches_reference(
    act: str,
    with_bias: bool,
    clamp: float | None,
    gain: float | None,
    alpha: float | None,
    shape_kind: str,
    dtype: str,
    seed: int,
) -> None:
    torch.manual_seed(seed)
    shapes = {
        "nchw": ([3, 6, 5, 7], 1),
        "channels_last": ([3, 6, 5, 7], 1),
        "nc": ([9, 13], 1),
        "dim2": ([2, 3, 8], 2),
    }
    shape, dim = shapes[shape_kind]
    x = _layout(torch.randn(shape, device="cuda", dtype=DTYPES[dtype]) * 2, shape_kind == "channels_last")
    b = torch.randn(shape[dim], device="cuda", dtype=DTYPES[dtype]) if with_bias else None
    kwargs: dict[str, Any] = {"dim": dim, "act": act, "alpha": alpha, "gain": gain, "clamp": clamp}
    inputs = [x] if b is None else [x, b]

    def run(impl: str, cast: torch.dtype | None) -> list[torch.Tensor]:
        def fn(*ts: torch.Tensor) -> torch.Tensor:
            ts = tuple(t.to(cast) for t in ts) if cast is not None else ts
            return bias_act(ts[0], ts[1] if len(ts) > 1 else None, impl=impl, **kwargs)

        return _first_and_second_order(fn, inputs, seed)

    _assert_all_close(run("cuda", None), run("ref", torch.float32), DTYPES[dtype])


@cuda
@pytest.mark.parametrize("act", list(ACTIVATIONS))
def test_bias_act_cuda_gradcheck_float64(act: str) -> None:
    torch.manual_seed(0)
    x = torch.randn(3, 4, 5, device="cuda", dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, device="cuda", dtype=torch.float64, requires_grad=True)

    def fn(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return bias_act(x, b, act=act, clamp=1.5 if act == "relu" else None, impl="cuda")

    assert torch.autograd.gradcheck(fn, (x, b))
    assert torch.autograd.gradgradcheck(fn, (x, b))


@cuda
def test_upfirdn2d_cuda_gradcheck_float64() -> None:
    f = setup_filter([1, 3, 3, 1], device="cuda")
    x = torch.randn(1, 2, 6, 7, device="cuda", dtype=torch.float64, requires_grad=True)
    for kwargs in (
        {"up": 2, "padding": [2, 1, 2, 1]},
        {"down": 2, "padding": 1},
        {"up": 3, "down": 2, "padding": -1},
    ):
        fn = partial(upfirdn2d, f=f, impl="cuda", **kwargs)
        assert torch.autograd.gradcheck(fn, (x,))
        assert torch.autograd.gradgradcheck(fn, (x,))


@cuda
def test_auto_on_cuda_uses_the_kernel() -> None:
    cuda_ops.install()
    x = torch.randn(1, 2, 8, 8, device="cuda")
    assert registry.resolve("upfirdn2d", "auto", x) == "cuda"
    assert all(impl == "cuda" for impl, _ in cuda_ops.status().values())


@cuda
@pytest.mark.parametrize("architecture", ["skip", "resnet"])
def test_generator_discriminator_step_cuda_matches_reference(architecture: str) -> None:
    """A G+D step (non-saturating losses and R1, second-order gradients) with the kernels vs the reference."""
    from benchmarks.bench_cuda_ops import gan_step, make_networks

    cuda_ops.install()
    G, D = make_networks(resolution=32, channel_base=1024, channel_max=64, architecture=architecture)
    z = torch.randn(4, G.z_dim, device="cuda")
    real = torch.randn(4, 3, 32, 32, device="cuda")

    def losses_and_grads() -> list[torch.Tensor]:
        torch.manual_seed(123)  # same noise inputs in both runs
        G.zero_grad(set_to_none=True)
        D.zero_grad(set_to_none=True)
        losses = gan_step(G, D, z, real, r1_gamma=10.0)
        grads = [p.grad for p in (*G.parameters(), *D.parameters())]
        assert all(g is not None for g in grads)
        return [*losses, *(g for g in grads if g is not None)]

    got = losses_and_grads()
    with build.reference_only():
        want = losses_and_grads()
    for index, (a, b) in enumerate(zip(got, want, strict=True)):
        scale = max(float(b.detach().abs().max()), 1e-3)
        try:
            torch.testing.assert_close(a, b, atol=2e-3 * scale, rtol=2e-3)
        except AssertionError as error:
            raise AssertionError(f"#{index} (losses, then G and D parameter grads): {error}") from None
    assert math.isfinite(float(got[0]))
