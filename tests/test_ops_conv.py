"""conv2d_resample against a slow composition, and modulated_conv2d against StyleGAN2 Eq. 1-3."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sg2model.core.errors import Sg2Error
from sg2model.ops.conv2d_resample import conv2d_resample
from sg2model.ops.modulated_conv import modulated_conv2d
from sg2model.ops.upfirdn2d import setup_filter, upfirdn2d

F64 = torch.float64


def slow_conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor,
    up: int,
    down: int,
    pad: tuple[int, int, int, int],  # user padding on the upsampled image
    groups: int,
    flip_weight: bool,
    flip_filter: bool,
) -> torch.Tensor:
    """Zero insertion -> all padding at once -> FIR (gain up^2) -> conv -> FIR + decimation."""
    fh, fw = f.shape
    px0, px1, py0, py1 = pad
    if up > 1:  # the padding of upsample2d (docs/facts.md, "Ops")
        px0, px1 = px0 + (fw + up - 1) // 2, px1 + (fw - up) // 2
        py0, py1 = py0 + (fh + up - 1) // 2, py1 + (fh - up) // 2
        z = x.new_zeros(x.shape[0], x.shape[1], x.shape[2] * up, x.shape[3] * up)
        z[:, :, ::up, ::up] = x
        x = z
    if down > 1:  # the padding of downsample2d
        px0, px1 = px0 + (fw - down + 1) // 2, px1 + (fw - down) // 2
        py0, py1 = py0 + (fh - down + 1) // 2, py1 + (fh - down) // 2
    x = F.pad(x, [px0, px1, py0, py1])
    if up > 1:
        x = upfirdn2d(x, f, flip_filter=flip_filter, gain=up**2)
    x = F.conv2d(x, w if flip_weight else w.flip([2, 3]), groups=groups)
    if down > 1:
        x = upfirdn2d(x, f, flip_filter=flip_filter)[:, :, ::down, ::down]
    return x


@st.composite
def conv_cases(draw: st.DrawFn) -> dict:
    groups = draw(st.integers(1, 2))
    k = draw(st.sampled_from([1, 2, 3]))
    up, down = draw(st.sampled_from([(1, 1), (2, 1), (1, 2), (2, 2), (3, 1), (1, 3)]))
    f = draw(st.sampled_from([[1, 3, 3, 1], [1, 2], [[1, 2, 0.5], [3, 1, 2]], [[2.0]]]))
    pad = tuple(draw(st.integers(-1, 2)) for _ in range(4))
    return dict(
        groups=groups,
        k=k,
        up=up,
        down=down,
        f=f,
        pad=pad,
        size=draw(st.integers(3, 6)),
        flip_weight=draw(st.booleans()),
        flip_filter=draw(st.booleans()),
        seed=draw(st.integers(0, 2**16)),
    )


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(conv_cases())
def test_conv2d_resample_equals_slow_composition(case: dict) -> None:
    gen = torch.Generator().manual_seed(case["seed"])
    groups, k = case["groups"], case["k"]
    x = torch.randn(2, 2 * groups, case["size"], case["size"] + 1, generator=gen, dtype=F64)
    w = torch.randn(3 * groups, 2, k, k, generator=gen, dtype=F64)
    f = setup_filter(case["f"], separable=False).double()
    args = (case["up"], case["down"], case["pad"], groups, case["flip_weight"], case["flip_filter"])
    try:
        want = slow_conv2d_resample(x, w, f, *args)
    except (RuntimeError, Sg2Error):  # the padded image is smaller than a kernel
        assume(False)
    got = conv2d_resample(
        x,
        w,
        f,
        up=case["up"],
        down=case["down"],
        padding=list(case["pad"]),
        groups=groups,
        flip_weight=case["flip_weight"],
        flip_filter=case["flip_filter"],
    )
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_plain_conv_is_torch_conv2d() -> None:
    x, w = torch.randn(2, 4, 6, 6), torch.randn(6, 2, 3, 3)
    torch.testing.assert_close(
        conv2d_resample(x, w, padding=1, groups=2), F.conv2d(x, w, padding=1, groups=2)
    )
    torch.testing.assert_close(
        conv2d_resample(x, w, padding=1, groups=2, flip_weight=False),
        F.conv2d(x, w.flip([2, 3]), padding=1, groups=2),
    )


@pytest.mark.parametrize(("up", "down"), [(2, 1), (1, 2), (2, 2)])
def test_conv2d_resample_gradients(up: int, down: int) -> None:
    size = 4 if down > 1 else 3  # 3x3 keeps gradgradcheck cheap; decimation needs 4x4 for a 2x2 output
    x = torch.randn(1, 2, size, size, dtype=F64, requires_grad=True)
    w = torch.randn(3, 2, 3, 3, dtype=F64, requires_grad=True)
    f = setup_filter([1, 3, 3, 1])

    def fn(xx: torch.Tensor, ww: torch.Tensor) -> torch.Tensor:
        return conv2d_resample(xx, ww, f, up=up, down=down, padding=1)

    assert torch.autograd.gradcheck(fn, (x, w))
    assert torch.autograd.gradgradcheck(fn, (x, w))


def test_conv2d_resample_rejects_bad_input() -> None:
    x = torch.randn(1, 4, 5, 5)
    with pytest.raises(Sg2Error):
        conv2d_resample(x, torch.randn(3, 3, 3, 3))  # channels do not match
    with pytest.raises(Sg2Error):
        conv2d_resample(x, torch.randn(3, 2, 3, 3), groups=2)  # 3 outputs not divisible by 2 groups
    with pytest.raises(Sg2Error):
        conv2d_resample(x, torch.randn(3, 4, 3, 3, dtype=F64))
    with pytest.raises(Sg2Error):
        conv2d_resample(x, torch.randn(3, 4, 3, 3), up=0)


# --- modulated_conv2d ----------------------------------------------------------------------------


def literal_modulated_conv(
    x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool, **kwargs: Any
) -> torch.Tensor:
    """Eq. 1-3 of StyleGAN2, one sample at a time."""
    outs = []
    for n in range(x.shape[0]):
        w1 = weight * styles[n].reshape(1, -1, 1, 1)  # Eq. 1
        if demodulate:
            w1 = w1 / torch.sqrt((w1**2).sum(dim=[1, 2, 3], keepdim=True) + 1e-8)  # Eq. 3
        outs.append(conv2d_resample(x[n : n + 1], w1, **kwargs))
    return torch.cat(outs)


RESAMPLING = [dict(padding=1), dict(up=2, padding=1), dict(down=2, padding=1)]


@pytest.mark.parametrize("resample", RESAMPLING, ids=["plain", "up2", "down2"])
@pytest.mark.parametrize("demodulate", [True, False])
def test_fused_and_per_sample_forms_equal_eq_1_to_3(resample: dict, demodulate: bool) -> None:
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(3, 4, 6, 6, generator=gen, dtype=F64)
    weight = torch.randn(5, 4, 3, 3, generator=gen, dtype=F64)
    styles = torch.randn(3, 4, generator=gen, dtype=F64) * 2
    kwargs = dict(resample, resample_filter=setup_filter([1, 3, 3, 1]))
    want = literal_modulated_conv(x, weight, styles, demodulate, f=kwargs["resample_filter"], **resample)
    size = want.shape[-1]
    noise = torch.randn(3, 1, size, size, generator=gen, dtype=F64)
    for fused in (True, False):
        got = modulated_conv2d(x, weight, styles, demodulate=demodulate, fused_modconv=fused, **kwargs)
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
        with_noise = modulated_conv2d(
            x, weight, styles, noise=noise, demodulate=demodulate, fused_modconv=fused, **kwargs
        )
        torch.testing.assert_close(with_noise, want + noise, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("style_scale", ["normal", "tiny", "huge", "mixed"])
def test_demodulated_output_has_unit_std(style_scale: str) -> None:
    """Eq. 2-3: i.i.d. unit-variance input gives output maps of std about 1, whatever the styles."""
    gen = torch.Generator().manual_seed(7)
    n, i, o = 4, 8, 6
    x = torch.randn(n, i, 96, 96, generator=gen, dtype=F64)
    weight = torch.randn(o, i, 3, 3, generator=gen, dtype=F64)
    styles = {
        "normal": torch.randn(n, i, generator=gen, dtype=F64),
        "tiny": torch.randn(n, i, generator=gen, dtype=F64) * 1e-2,
        "huge": torch.randn(n, i, generator=gen, dtype=F64) * 1e3,
        "mixed": 10 ** (torch.rand(n, i, generator=gen, dtype=F64) * 6 - 3),  # 1e-3 .. 1e3 per channel
    }[style_scale]
    for fused in (True, False):
        y = modulated_conv2d(x, weight, styles, fused_modconv=fused)  # no padding: no border effects
        std = y.std(dim=[2, 3])  # [N, O]
        assert std.shape == (n, o)
        assert torch.allclose(std, torch.ones_like(std), atol=0.08), std
        plain = modulated_conv2d(x, weight, styles, demodulate=False, fused_modconv=fused)
        # Without demodulation the scale follows the styles (the test can tell the two apart).
        assert not torch.allclose(plain.std(dim=[2, 3]), torch.ones(n, o, dtype=F64), atol=0.08)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("resample", RESAMPLING, ids=["plain", "up2", "down2"])
def test_modulated_conv2d_gradients(fused: bool, resample: dict) -> None:
    size = 4 if "down" in resample else 3  # 3x3 keeps gradgradcheck cheap; down2 needs 4x4 for a 2x2 output
    x = torch.randn(2, 2, size, size, dtype=F64, requires_grad=True)
    weight = torch.randn(3, 2, 3, 3, dtype=F64, requires_grad=True)
    styles = torch.randn(2, 2, dtype=F64, requires_grad=True)
    f = setup_filter([1, 3, 3, 1])

    def fn(xx: torch.Tensor, ww: torch.Tensor, ss: torch.Tensor) -> torch.Tensor:
        return modulated_conv2d(xx, ww, ss, resample_filter=f, fused_modconv=fused, **resample)

    assert torch.autograd.gradcheck(fn, (x, weight, styles))
    assert torch.autograd.gradgradcheck(fn, (x, weight, styles))


def test_float16_input_is_prescaled_without_changing_the_result() -> None:
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(2, 4, 8, 8, generator=gen)
    weight = torch.randn(3, 4, 3, 3, generator=gen) * 30
    styles = torch.randn(2, 4, generator=gen) * 300  # sum of squares of w' ~ 1e8: beyond float16's range
    want = modulated_conv2d(x, weight, styles, padding=1)
    for fused in (True, False):
        got = modulated_conv2d(x.half(), weight, styles, padding=1, fused_modconv=fused)
        assert got.dtype == torch.float16 and torch.isfinite(got).all()
        np.testing.assert_allclose(got.float().numpy(), want.numpy(), atol=2e-2, rtol=2e-2)


def test_modulated_conv2d_rejects_mismatched_shapes() -> None:
    with pytest.raises(Sg2Error):
        modulated_conv2d(torch.randn(2, 4, 5, 5), torch.randn(3, 4, 3, 3), torch.randn(2, 3))
    with pytest.raises(Sg2Error):
        modulated_conv2d(torch.randn(2, 4, 5, 5), torch.randn(3, 5, 3, 3), torch.randn(2, 4))
