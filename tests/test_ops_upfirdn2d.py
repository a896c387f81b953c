"""upfirdn2d and its helpers against a direct definition written with explicit loops (docs/facts.md,
"Ops")."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sg2model.core.errors import Sg2Error
from sg2model.ops import registry
from sg2model.ops.upfirdn2d import downsample2d, filter2d, setup_filter, upfirdn2d, upsample2d


def direct_upfirdn2d(
    x: np.ndarray,  # [N, C, H, W]
    f2d: np.ndarray,  # [fh, fw]
    up: tuple[int, int],
    down: tuple[int, int],
    pad: tuple[int, int, int, int],
    flip_filter: bool,
    gain: float,
) -> np.ndarray:
    """Textbook definition: zero insertion, zero padding / cropping, FIR (valid part), decimation."""
    n, c, h, w = x.shape
    (upx, upy), (downx, downy), (px0, px1, py0, py1) = up, down, pad
    # 1. Insert up - 1 zeros after every pixel.
    z = np.zeros((n, c, h * upy, w * upx))
    for i in range(h):
        for j in range(w):
            z[:, :, i * upy, j * upx] = x[:, :, i, j]
    # 2. Pad with zeros; a negative amount removes pixels.
    ph, pw = z.shape[2] + py0 + py1, z.shape[3] + px0 + px1
    p = np.zeros((n, c, ph, pw))
    for i in range(ph):
        for j in range(pw):
            if 0 <= i - py0 < z.shape[2] and 0 <= j - px0 < z.shape[3]:
                p[:, :, i, j] = z[:, :, i - py0, j - px0]
    # 3. Convolution y[m] = sum_k f[k] p[m - k] (correlation y[m] = sum_k f[k] p[m + k] when flipped),
    #    keeping the outputs whose footprint lies inside p.
    fh, fw = f2d.shape
    y = np.zeros((n, c, ph - fh + 1, pw - fw + 1))
    for i in range(y.shape[2]):
        for j in range(y.shape[3]):
            for a in range(fh):
                for b in range(fw):
                    if flip_filter:
                        y[:, :, i, j] += f2d[a, b] * p[:, :, i + a, j + b]
                    else:
                        y[:, :, i, j] += f2d[a, b] * p[:, :, i + fh - 1 - a, j + fw - 1 - b]
    # 4. Keep every down-th pixel.
    return gain * y[:, :, ::downy, ::downx]


@st.composite
def upfirdn_cases(draw: st.DrawFn) -> dict:
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    separable = draw(st.booleans())
    if separable:
        taps = draw(st.integers(1, 4))
        fh = fw = taps
    else:
        fh, fw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    up = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    down = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    pad = tuple(draw(st.integers(-2, 4)) for _ in range(4))
    assume(w * up[0] + pad[0] + pad[1] >= fw and h * up[1] + pad[2] + pad[3] >= fh)
    seed = draw(st.integers(0, 2**16))
    return dict(
        shape=(2, 2, h, w),
        fshape=(fw,) if separable else (fh, fw),
        up=up,
        down=down,
        pad=pad,
        flip_filter=draw(st.booleans()),
        gain=draw(st.sampled_from([1.0, 0.5, 4.0])),
        seed=seed,
    )


@settings(max_examples=120, deadline=None, derandomize=True, database=None)
@given(upfirdn_cases())
def test_upfirdn2d_matches_direct_definition(case: dict) -> None:
    gen = torch.Generator().manual_seed(case["seed"])
    x = torch.randn(case["shape"], generator=gen, dtype=torch.float64)
    f = torch.rand(case["fshape"], generator=gen, dtype=torch.float64) + 0.1  # generic, not symmetric
    f2d = np.outer(f.numpy(), f.numpy()) if f.ndim == 1 else f.numpy()
    got = upfirdn2d(
        x,
        f,
        up=list(case["up"]),
        down=list(case["down"]),
        padding=list(case["pad"]),
        flip_filter=case["flip_filter"],
        gain=case["gain"],
        impl="ref",
    )
    want = direct_upfirdn2d(
        x.numpy(), f2d, case["up"], case["down"], case["pad"], case["flip_filter"], case["gain"]
    )
    assert got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


def test_int_and_pair_arguments_agree_with_four_sided_padding() -> None:
    x = torch.randn(1, 3, 4, 5, dtype=torch.float64)
    f = setup_filter([1, 2, 4]).double()
    a = upfirdn2d(x, f, up=2, down=2, padding=1)
    b = upfirdn2d(x, f, up=[2, 2], down=[2, 2], padding=[1, 1])
    c = upfirdn2d(x, f, up=[2, 2], down=[2, 2], padding=[1, 1, 1, 1])
    assert torch.equal(a, b) and torch.equal(b, c)


def test_identity_filter_crops_and_decimates() -> None:
    x = torch.arange(36.0).reshape(1, 1, 6, 6)
    y = upfirdn2d(x, None, down=2, padding=[-1, 0, 0, -1], gain=3.0)
    assert torch.equal(y, 3.0 * x[:, :, 0:5:2, 1:6:2])


def test_setup_filter_outer_product_separable_and_gain() -> None:
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
    assert torch.allclose(setup_filter([1, 3, 3, 1]), torch.outer(taps, taps) / 64)
    assert torch.allclose(setup_filter([1, 3, 3, 1], separable=True), taps / 8)
    assert setup_filter([1] * 8).shape == (8,)  # 8 taps or more stay separable by default
    assert setup_filter(np.ones((3, 2))).shape == (3, 2)
    assert torch.equal(setup_filter(None), torch.ones(1, 1))
    assert setup_filter([1, 3, 3, 1], gain=4).sum().item() == pytest.approx(4.0)
    assert setup_filter([1, 3, 3, 1], separable=True, gain=4).sum().item() == pytest.approx(2.0)
    assert torch.equal(setup_filter([[1, 2], [3, 4]], flip_filter=True), setup_filter([[4, 3], [2, 1]]))
    assert setup_filter([1, 2], normalize=False)[1, 1].item() == 4.0
    assert setup_filter([1, 3, 3, 1]).dtype == torch.float32


def test_upsample2d_with_box_filter_is_nearest_neighbour() -> None:
    x = torch.randn(2, 3, 4, 5)
    got = upsample2d(x, setup_filter([1, 1]), up=2)
    torch.testing.assert_close(got, F.interpolate(x, scale_factor=2, mode="nearest"))


def test_downsample2d_with_box_filter_is_average_pooling() -> None:
    x = torch.randn(2, 3, 6, 8)
    got = downsample2d(x, setup_filter([1, 1]), down=2)
    torch.testing.assert_close(got, F.avg_pool2d(x, 2))


def test_resampling_keeps_shapes_and_the_dc_level() -> None:
    f = setup_filter([1, 3, 3, 1])
    ones = torch.ones(1, 2, 8, 8)
    up, down, same = upsample2d(ones, f), downsample2d(ones, f), filter2d(ones, f)
    assert up.shape == (1, 2, 16, 16) and down.shape == (1, 2, 4, 4) and same.shape == (1, 2, 8, 8)
    torch.testing.assert_close(up[:, :, 2:-2, 2:-2], torch.ones(1, 2, 12, 12))
    torch.testing.assert_close(down[:, :, 1:-1, 1:-1], torch.ones(1, 2, 2, 2))
    torch.testing.assert_close(same[:, :, 2:-2, 2:-2], torch.ones(1, 2, 4, 4))
    assert up[0, 0, 0, 0] < 1 and down[0, 0, 0, 0] < 1  # zeros beyond the border


@pytest.mark.parametrize("factor", [2, 3])
def test_wrappers_pad_as_the_official_code(factor: int) -> None:
    """docs/facts.md, "Ops": upsample2d pads (fw+up-1)//2, (fw-up)//2 (gain up^2); downsample2d pads
    (fw-down+1)//2, (fw-down)//2; filter2d pads fw//2, (fw-1)//2; all plus the user's padding."""
    x = torch.randn(1, 2, 7, 6, dtype=torch.float64)
    f = torch.rand(3, 4, dtype=torch.float64) + 0.1  # odd height, even width
    fh, fw, k = 3, 4, factor
    up = [1 + (fw + k - 1) // 2, 2 + (fw - k) // 2, 0 + (fh + k - 1) // 2, -1 + (fh - k) // 2]
    down = [1 + (fw - k + 1) // 2, 2 + (fw - k) // 2, 0 + (fh - k + 1) // 2, -1 + (fh - k) // 2]
    same = [1 + fw // 2, 2 + (fw - 1) // 2, 0 + fh // 2, -1 + (fh - 1) // 2]
    user = [1, 2, 0, -1]
    want_up = upfirdn2d(x, f, up=k, padding=up, gain=2.0 * k * k)
    torch.testing.assert_close(upsample2d(x, f, up=k, padding=user, gain=2.0), want_up)
    torch.testing.assert_close(
        downsample2d(x, f, down=k, padding=user), upfirdn2d(x, f, down=k, padding=down)
    )
    torch.testing.assert_close(filter2d(x, f, padding=user), upfirdn2d(x, f, padding=same))


@pytest.mark.parametrize("flip_filter", [False, True])
def test_filter2d_of_an_impulse_is_the_centred_filter(flip_filter: bool) -> None:
    f = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1.0
    y = filter2d(x, f, flip_filter=flip_filter)
    # A convolution reproduces the taps around the impulse; a correlation reproduces them mirrored.
    want = f.flip([0, 1]) if flip_filter else f
    assert torch.equal(y[0, 0, 1:4, 1:4], want)
    assert y.abs().sum() == f.sum()


def test_gradients_of_first_and_second_order() -> None:
    x = torch.randn(2, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    f2 = torch.rand(3, 2, dtype=torch.float64) + 0.1
    f1 = torch.rand(4, dtype=torch.float64) + 0.1
    for fn in (
        lambda t: upfirdn2d(t, f2, up=2, padding=[1, 2, 0, 1], gain=2.0),
        lambda t: upfirdn2d(t, f1, down=[2, 1], padding=[2, -1, 1, 1], flip_filter=True),
        lambda t: upfirdn2d(t, f2, up=[1, 3], down=2, padding=1),
    ):
        assert torch.autograd.gradcheck(fn, (x,))
        assert torch.autograd.gradgradcheck(fn, (x,))


def test_bad_arguments_raise_one_line_errors() -> None:
    x = torch.randn(1, 1, 4, 4)
    f = setup_filter([1, 3, 3, 1])
    for kwargs in ({"up": 0}, {"down": [1, 2, 3]}, {"padding": [1, 2, 3]}, {"padding": -3}):
        with pytest.raises(Sg2Error):
            upfirdn2d(x, f, **kwargs)
    with pytest.raises(Sg2Error):
        upfirdn2d(x[0], f)
    with pytest.raises(Sg2Error):
        setup_filter([1, -1])
    with pytest.raises(Sg2Error):
        setup_filter(np.ones((2, 2, 2)))


def test_dispatch_passes_the_reference_signature_to_a_registered_kernel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict] = []

    def fake_kernel(x: torch.Tensor, f: torch.Tensor | None, **kwargs: object) -> torch.Tensor:
        calls.append(kwargs)
        return x

    monkeypatch.setattr(registry, "_cuda_kernels", {})
    registry.register_cuda("upfirdn2d", fake_kernel)
    x = torch.randn(1, 1, 4, 4)
    f = setup_filter([1, 3, 3, 1])
    assert upsample2d(x, f).shape == (1, 1, 8, 8)  # a CPU tensor keeps the reference under 'auto'
    assert calls == []
    with pytest.raises(Sg2Error):
        upfirdn2d(x, f, padding=2, impl="cuda")
    monkeypatch.setattr(registry, "resolve", lambda op, impl, t: "cuda")
    assert upfirdn2d(x, f, up=2, down=1, padding=[1, 2], flip_filter=True, gain=4.0) is x
    assert calls == [{"up": 2, "down": 1, "padding": [1, 2], "flip_filter": True, "gain": 4.0}]
