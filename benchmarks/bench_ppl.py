"""Pairs per second of perceptual path length: sg2eval against torchmetrics on the same network and LPIPS.

The network is ``Generator.from_config('F', 256)`` (seeded random weights); the LPIPS is the lpips
package's VGG with its shipped linear layers and a seeded random VGG16 trunk (no download), handed to both
implementations. Both compute W-space endpoint PPL (``ppl2_wend``: t = 0, no crop, 256x256 images go to
LPIPS unchanged) with the same number of pairs per generator call.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_ppl.py --pairs 4 --batch 2 --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn


class TorchmetricsGenerator(nn.Module):
    """torchmetrics' generator interface: ``sample`` gives w latents (lerp then happens in W), ``forward``
    renders them in [0, 255] with the same settings as sg2eval (fp32, per-call random noise)."""

    def __init__(self, G: Any) -> None:
        super().__init__()
        self.G: Any = G

    def sample(self, num_samples: int) -> torch.Tensor:
        return self.G.mapping(torch.randn(num_samples, self.G.z_dim), None)

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        return (self.G.synthesis(ws, noise_mode="random", force_fp32=True) + 1) * (255 / 2)


class FlatLpips(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        return self.net(x0, x1).reshape(-1)


def median_times(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median wall time of each function over ``repeats`` rounds; the functions alternate within a round so
    that load from other processes hits them alike."""
    runs: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            runs[name].append(time.perf_counter() - start)
    return {name: statistics.median(found) for name, found in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=4, help="pairs per timed run")
    parser.add_argument("--batch", type=int, default=2, help="pairs per generator call (both methods)")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per method; the median is kept")
    parser.add_argument("--quick", action="store_true", help="2 pairs per timed run")
    args = parser.parse_args()
    if args.quick:
        args.pairs = 2

    import lpips
    from torchmetrics.functional.image.perceptual_path_length import perceptual_path_length

    from sg2eval.metrics.ppl import compute_ppl
    from sg2eval.ppl_presets import get_preset
    from sg2model import Generator

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    G = Generator.from_config("F", args.resolution).eval()
    net = lpips.LPIPS(net="vgg", pretrained=True, pnet_rand=True, verbose=False).eval()

    def distance(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        return net(x0 / 127.5 - 1, x1 / 127.5 - 1).reshape(-1)

    config = get_preset("ppl2_wend").config.replace(num_samples=args.pairs)

    def ours() -> object:
        return compute_ppl(G, distance, config, seed=0, batch_size=args.batch)

    def theirs() -> object:
        with torch.no_grad():
            return perceptual_path_length(
                TorchmetricsGenerator(G),  # type: ignore[arg-type]  # duck-typed GeneratorType
                num_samples=args.pairs,
                batch_size=args.batch,
                epsilon=1e-4,
                interpolation_method="lerp",
                sim_net=FlatLpips(net),
            )

    times = median_times({"sg2eval": ours, "torchmetrics 1.9.0": theirs}, args.repeats)
    rows = list(times.items())
    reference = rows[1][1]
    print(
        f"PPL (W, endpoints), Generator.from_config('F', {args.resolution}), lpips VGG, {args.pairs} pairs, "
        f"{args.batch} pairs per call, {args.threads} CPU thread(s), median of {args.repeats} rounds"
    )
    print(f"{'implementation':<20} {'seconds':>9} {'pairs/s':>9} {'peer s / our s':>22}")
    for name, seconds in rows:
        print(f"{name:<20} {seconds:>9.2f} {args.pairs / seconds:>9.3f} {reference / seconds:>21.2f}x")


if __name__ == "__main__":
    main()
