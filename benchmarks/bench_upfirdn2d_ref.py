"""The reference ``upfirdn2d`` on the CPU: three ways to lay out its FIR convolution, same numbers.

``upfirdn2d`` filters every channel of every image with one small FIR filter. A conv2d can do that with

- ``one-channel``: the images' channels as a batch of N*C one-channel images (sg2eval before 2026-11-26);
- ``depthwise``: the batch as it is, one group per channel (sg2eval's reference now, and the layout of
  stylegan2-ada-pytorch's reference);
- ``batch-of-one``: one image of N*C channels, one group per channel.

For the resampling shapes of the built-in network's training step (32x32 config E, channels 128 at 4x4
halving to 16 at 32x32, 16 images per process) it times forward + backward (G and D phases) and the double
backward of R1, and prints each layout's time as a ratio to ``depthwise``, measured in the same run.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_upfirdn2d_ref.py [--batch 16] [--reps 10]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

Layout = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


def one_channel(x: torch.Tensor, taps: torch.Tensor, stride: int) -> torch.Tensor:
    n, c, h, w = x.shape
    y = F.conv2d(x.reshape(n * c, 1, h, w), taps[None, None], stride=stride)
    return y.reshape(n, c, y.shape[2], y.shape[3])


def depthwise(x: torch.Tensor, taps: torch.Tensor, stride: int) -> torch.Tensor:
    c = x.shape[1]
    return F.conv2d(x, taps[None, None].expand(c, 1, *taps.shape), stride=stride, groups=c)


def batch_of_one(x: torch.Tensor, taps: torch.Tensor, stride: int) -> torch.Tensor:
    n, c, h, w = x.shape
    weight = taps[None, None].expand(n * c, 1, *taps.shape)
    y = F.conv2d(x.reshape(1, n * c, h, w), weight, stride=stride, groups=n * c)
    return y.reshape(n, c, y.shape[2], y.shape[3])


LAYOUTS: dict[str, Layout] = {
    "one-channel": one_channel,
    "depthwise": depthwise,
    "batch-of-one": batch_of_one,
}


def shapes(batch: int) -> list[tuple[str, tuple[int, int, int, int], int]]:
    """(name, padded input shape, stride) of the 4x4 FIRs of G's upsampling and D's downsampling."""
    found = []
    for res, channels in ((8, 64), (16, 32), (32, 16)):
        found.append((f"G up {res}", (batch, channels, res + 3, res + 3), 1))
        found.append((f"D down {res}", (batch, channels, res + 2, res + 2), 2))
    return found


def seconds(fn: Callable[[], object], reps: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - start) / reps


def first_order(layout: Layout, x: torch.Tensor, taps: torch.Tensor, stride: int) -> Callable[[], object]:
    def run() -> object:
        y = layout(x, taps, stride)
        return torch.autograd.grad(y, x, torch.ones_like(y))

    return run


def second_order(layout: Layout, x: torch.Tensor, taps: torch.Tensor, stride: int) -> Callable[[], object]:
    def run() -> object:  # R1: d/dx of |d sum(y) / dx|^2, as through D's downsampling
        y = layout(x, taps, stride)
        (g,) = torch.autograd.grad(y.square().sum(), x, create_graph=True)
        return torch.autograd.grad(g.square().sum(), x)

    return run


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(0)
    f = torch.tensor([1.0, 3.0, 3.0, 1.0])
    taps = torch.outer(f, f) / 64
    totals = {kind: dict.fromkeys(LAYOUTS, 0.0) for kind in ("fwd+bwd", "R1 double bwd")}
    print(f"{'shape':12s} {'pass':14s} " + " ".join(f"{name:>14s}" for name in LAYOUTS) + "   (ms)")
    for name, shape, stride in shapes(args.batch):
        x = torch.randn(shape, requires_grad=True)
        reference = depthwise(x, taps, stride)
        for layout in LAYOUTS.values():
            torch.testing.assert_close(layout(x, taps, stride), reference, rtol=0, atol=0)
        for kind, make in (("fwd+bwd", first_order), ("R1 double bwd", second_order)):
            row = {label: seconds(make(fn, x, taps, stride), args.reps) for label, fn in LAYOUTS.items()}
            for label, value in row.items():
                totals[kind][label] += value
            print(f"{name:12s} {kind:14s} " + " ".join(f"{1e3 * v:14.2f}" for v in row.values()))
    print("\ntotal over the shapes, as a ratio to depthwise (higher = slower):")
    for kind, row in totals.items():
        base = row["depthwise"]
        print(f"  {kind:14s} " + "  ".join(f"{label} {value / base:.2f}x" for label, value in row.items()))


if __name__ == "__main__":
    main()
